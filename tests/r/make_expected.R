# Expected Kaplan-Meier / log-rank values from R's survival package, for tests/test_survival.py
# and tests/test_reconstruct.py.
#
# Regenerate (from the repository root) with:
#     Rscript tests/r/make_expected.R
# Needs r-base-core and r-cran-survival (Debian) -- made with R 4.2.2, survival 3.5-3.
#
# Writes
#   tests/reference_data/<name>.csv          data sets exported from survival (group, time, event)
#   tests/reference_data/ipd_folder/ipd/colon.csv, km_curves/{points,at_risk}.csv
#                                            the IPD / digitized-curve parts of the reference data folder
#   tests/r/expected/*.csv                   survfit / summary / quantile / survdiff results
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
root <- normalizePath(file.path(dirname(script), "..", ".."))
ref_dir <- file.path(root, "tests", "reference_data")
exp_dir <- file.path(root, "tests", "r", "expected")
dir.create(exp_dir, showWarnings = FALSE, recursive = TRUE)
dir.create(file.path(ref_dir, "ipd_folder", "ipd"), showWarnings = FALSE, recursive = TRUE)
dir.create(file.path(ref_dir, "ipd_folder", "km_curves"), showWarnings = FALSE, recursive = TRUE)

wcsv <- function(df, path) write.csv(df, path, row.names = FALSE, na = "")

# ------------------------------------------------------------------ reference data sets
sets <- list(
  lung = with(lung, data.frame(group = ifelse(sex == 1, "male", "female"),
                               time = time, event = as.integer(status == 2))),
  lung_ecog = with(lung[!is.na(lung$ph.ecog) & lung$ph.ecog < 3, ],
                   data.frame(group = paste0("ECOG ", ph.ecog), time = time,
                              event = as.integer(status == 2))),
  colon = with(colon[colon$etype == 1, ],
               data.frame(group = as.character(rx), time = time, event = as.integer(status))),
  pbc = with(pbc[!is.na(pbc$trt), ],
             data.frame(group = ifelse(trt == 1, "D-penicillamine", "placebo"), time = time,
                        event = as.integer(status == 2))),
  mgus = with(mgus, data.frame(group = as.character(sex), time = futime, event = as.integer(death))),
  aml = with(aml, data.frame(group = as.character(x), time = time, event = as.integer(status))),
  # edge cases: a flat stretch at exactly 0.5 (median = midpoint), a curve that reaches 0,
  # a curve flat at 0.5 to its end, all censored, a single event
  edge = data.frame(
    group = c(rep("flat_half", 6), rep("to_zero", 5), rep("half_to_end", 4),
              rep("all_censored", 3), rep("one_event", 4)),
    time  = c(1, 2, 3, 4, 6, 8,   2, 3, 3, 5, 7,   1, 3, 5, 7,   5, 10, 15,   3, 6, 9, 12),
    event = c(1, 1, 1, 0, 1, 0,   1, 0, 1, 1, 1,   1, 1, 0, 0,   0, 0, 0,     0, 1, 0, 0)
  )
)
landmarks <- list(lung = c(90, 180, 365, 730, 1200), lung_ecog = c(180, 365, 730),
                  colon = c(365, 730, 1826, 3000, 4000), pbc = c(1000, 2000, 4000, 5000),
                  mgus = c(1000, 5000, 10000, 15000), aml = c(0, 5, 12, 30, 48, 200),
                  edge = c(0, 2, 3.5, 5, 8, 12, 20))
ticks <- list(lung = seq(0, 1200, 200), lung_ecog = seq(0, 1000, 250), colon = seq(0, 3500, 500),
              pbc = seq(0, 5000, 1000), mgus = seq(0, 15000, 2500), aml = seq(0, 180, 30),
              edge = c(0, 2, 4, 6, 8, 10, 12, 14, 16))

strip <- function(fit) {
  if (is.null(fit$strata)) rep("all", length(fit$time))
  else sub("^group=", "", rep(names(fit$strata), fit$strata))
}

est <- list(); summ <- list(); land <- list(); risk <- list(); lr <- list()
for (name in names(sets)) {
  d <- sets[[name]]
  wcsv(d, file.path(ref_dir, paste0(name, ".csv")))
  for (conf in c("log", "log-log", "plain")) {
    for (level in c(0.95, 0.90)) {
      if (level == 0.90 && !(name %in% c("lung", "edge"))) next
      fit <- survfit(Surv(time, event) ~ group, data = d, conf.type = conf, conf.int = level)
      key <- data.frame(dataset = name, conf_type = conf, conf_int = level)
      est[[length(est) + 1]] <- cbind(key, data.frame(
        group = strip(fit), time = fit$time, n_at_risk = fit$n.risk, n_events = fit$n.event,
        n_censored = fit$n.censor, survival = fit$surv, std_err = fit$std.err,
        ci_lower = fit$lower, ci_upper = fit$upper))
      tab <- summary(fit)$table
      if (is.null(dim(tab))) tab <- t(as.matrix(tab))
      lcl <- grep("LCL$", colnames(tab)); ucl <- grep("UCL$", colnames(tab))
      q <- quantile(fit, probs = 0.5)
      summ[[length(summ) + 1]] <- cbind(key, data.frame(
        group = if (is.null(fit$strata)) "all" else sub("^group=", "", rownames(tab)),
        n = tab[, "n.start"], events = tab[, "events"], median = tab[, "median"],
        median_ci_lower = tab[, lcl], median_ci_upper = tab[, ucl],
        q_median = as.vector(q$quantile), q_lower = as.vector(q$lower),
        q_upper = as.vector(q$upper)))
      s <- summary(fit, times = landmarks[[name]])
      land[[length(land) + 1]] <- cbind(key, data.frame(
        group = if (is.null(s$strata)) rep("all", length(s$time)) else sub("^group=", "", as.character(s$strata)),
        time = s$time, survival = s$surv, ci_lower = s$lower, ci_upper = s$upper))
    }
  }
  fit <- survfit(Surv(time, event) ~ group, data = d)
  s <- summary(fit, times = ticks[[name]], extend = TRUE)
  risk[[length(risk) + 1]] <- data.frame(
    dataset = name,
    group = if (is.null(s$strata)) rep("all", length(s$time)) else sub("^group=", "", as.character(s$strata)),
    time = s$time, n_at_risk = s$n.risk, n_events = s$n.event, n_censored = s$n.censor)
  if (name != "edge") {
    sd <- survdiff(Surv(time, event) ~ group, data = d)
    df <- length(sd$n) - 1
    lr[[length(lr) + 1]] <- data.frame(dataset = name, statistic = sd$chisq, df = df,
                                       p_value = pchisq(sd$chisq, df, lower.tail = FALSE))
  }
}
# single-group fits (no strata) of two data sets
for (name in c("lung", "aml")) {
  d <- sets[[name]]
  fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = "log")
  key <- data.frame(dataset = paste0(name, "_pooled"), conf_type = "log", conf_int = 0.95)
  est[[length(est) + 1]] <- cbind(key, data.frame(
    group = "all", time = fit$time, n_at_risk = fit$n.risk, n_events = fit$n.event,
    n_censored = fit$n.censor, survival = fit$surv, std_err = fit$std.err,
    ci_lower = fit$lower, ci_upper = fit$upper))
  tab <- summary(fit)$table
  q <- quantile(fit, probs = 0.5)
  summ[[length(summ) + 1]] <- cbind(key, data.frame(
    group = "all", n = tab[["n.start"]], events = tab[["events"]], median = tab[["median"]],
    median_ci_lower = tab[["0.95LCL"]], median_ci_upper = tab[["0.95UCL"]],
    q_median = as.vector(q$quantile), q_lower = as.vector(q$lower), q_upper = as.vector(q$upper)))
}
wcsv(do.call(rbind, est), file.path(exp_dir, "km_estimates.csv"))
wcsv(do.call(rbind, summ), file.path(exp_dir, "km_summary.csv"))
wcsv(do.call(rbind, land), file.path(exp_dir, "km_landmarks.csv"))
wcsv(do.call(rbind, risk), file.path(exp_dir, "at_risk.csv"))
wcsv(do.call(rbind, lr), file.path(exp_dir, "logrank.csv"))

# ------------------------------------------------------------------ reference data folder
# ipd/colon.csv: colon cancer recurrence (Moertel et al. 1990, R survival::colon), in days
cd <- colon[colon$etype == 1, ]
wcsv(data.frame(study = "R-colon", patient_id = cd$id, group = as.character(cd$rx),
                time = cd$time, time_unit = "days", event = cd$status),
     file.path(ref_dir, "ipd_folder", "ipd", "colon.csv"))

# km_curves: the lung-cancer curves by sex (Loprinzi et al. 1994, R survival::lung), in months,
# "digitized" as the corner of each step plus the end of each curve, with the numbers at risk
# every 6 months
lg <- sets$lung
lg$months <- lg$time / 30.4375
fit <- survfit(Surv(months, event) ~ group, data = lg)
pts <- data.frame(study = "R-lung", group = strip(fit), time = fit$time, time_unit = "months",
                  survival = fit$surv)
last <- cumsum(fit$strata)  # the right end of each curve, as a digitizer would click it
pts <- pts[fit$n.event > 0 | seq_along(fit$time) %in% last, ]
wcsv(pts, file.path(ref_dir, "ipd_folder", "km_curves", "points.csv"))
s <- summary(fit, times = seq(0, 30, 6), extend = TRUE)
ar <- data.frame(study = "R-lung", group = sub("^group=", "", as.character(s$strata)),
                 time = s$time, time_unit = "months", n_at_risk = s$n.risk, total_events = NA)
ev <- tapply(lg$event, lg$group, sum)
ar$total_events[ar$time == 0] <- ev[ar$group[ar$time == 0]]
ar <- ar[ar$n_at_risk > 0, ]
wcsv(ar, file.path(ref_dir, "ipd_folder", "km_curves", "at_risk.csv"))
# what the reconstruction should approach: R's own fit of the original data (months)
wcsv(data.frame(group = strip(fit), time = fit$time, survival = fit$surv),
     file.path(exp_dir, "lung_months_km.csv"))
tab <- summary(fit)$table
wcsv(data.frame(group = sub("^group=", "", rownames(tab)), median = tab[, "median"]),
     file.path(exp_dir, "lung_months_median.csv"))
cat("wrote", exp_dir, "and", ref_dir, "\n")
