# Expected values for tests/test_km_more.py (src/analysis/km_more.py, km_cif.py, km_turnbull.py):
# competing-risks cumulative incidence, Gray's test, RMST, median follow-up (reverse
# Kaplan-Meier), stratified log-rank and the Turnbull estimate, from R's survival and cmprsk.
#
# Regenerate (from the repository root) with:
#     Rscript tests/r/km_more_reference.R
# Needs r-base-core, r-cran-survival and r-cran-cmprsk (Debian); the versions used are
# written to tests/r/km_more/VERSIONS.txt. All data sets are built here, in code, from
# survival's own data (mgus2, colon, lung, aml) or by hand, and written next to the
# results (tests/r/km_more/input_*.csv) so the tests need no R.
#
# Writes tests/r/km_more/
#   input_cif.csv        dataset, group, strata, time, cause ("" = censored)
#   input_km.csv         dataset, group, strata, time, event (0/1)
#   input_interval.csv   dataset, lo, hi ("" = open end: NA in R)
#   cif.csv              survfit(Surv(time, factor(cause)) ~ 1 | ~ group) pstate, std.err, CI
#   gray.csv             cmprsk::cuminc(time, cause, group[, strata], rho)$Tests
#   rmst.csv             summary(survfit(Surv(time, event) ~ 1), rmean = tau)$table
#   followup.csv         survfit(Surv(time, 1 - event) ~ 1) median and CI (table and quantile)
#   logrank.csv          survdiff(Surv(time, event) ~ group [+ strata(strata)])
#   turnbull.csv         survfit(Surv(lo, hi, type = "interval2") ~ 1) time, surv
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
root <- normalizePath(file.path(dirname(script), "..", ".."))
out_dir <- file.path(root, "tests", "r", "km_more")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# results with 15 significant digits (inputs with 17: the exact doubles R used),
# NA as empty, +-Inf as Inf/-Inf
wcsv <- function(df, name, digits = 15) {
  for (col in names(df)) {
    x <- df[[col]]
    if (is.numeric(x)) df[[col]] <- ifelse(is.na(x), "", sprintf(paste0("%.", digits, "g"), x))
  }
  write.csv(df, file.path(out_dir, name), row.names = FALSE, na = "")
}

# ------------------------------------------------------------------ data sets
# competing risks: time, cause ("" censored), group, strata
mg <- mgus2
mg_time <- ifelse(mg$pstat == 1, mg$ptime, mg$futime)
mg_cause <- ifelse(mg$pstat == 1, "pcm", ifelse(mg$death == 1, "death", ""))
rec <- colon[colon$etype == 1, ]
dth <- colon[colon$etype == 2, ]
dth <- dth[match(rec$id, dth$id), ]
cif_sets <- list(
  # monoclonal gammopathy: progression to plasma cell malignancy vs death (Kyle 2002)
  mgus2 = data.frame(group = as.character(mg$sex), strata = ifelse(mg$age < 70, "<70", ">=70"),
                     time = mg_time, cause = mg_cause),
  # colon cancer: recurrence vs death without recurrence, by treatment (3 groups)
  colon = data.frame(group = as.character(rec$rx), strata = as.character(rec$sex),
                     time = ifelse(rec$status == 1, rec$time, dth$time),
                     cause = ifelse(rec$status == 1, "recurrence",
                                    ifelse(dth$status == 1, "death", ""))),
  # hand-made: ties across causes and censorings at the same time; cause "c" in group B only
  ties = data.frame(
    group  = c("A","A","A","A","A","A","A","A","A","A","A", "B","B","B","B","B","B","B","B","B","B","B","B"),
    strata = c("s","t","s","t","s","t","s","t","s","t","s", "s","t","s","t","s","t","s","t","s","t","s","t"),
    time   = c(1, 2, 2, 2, 3, 3, 3, 5, 5, 8, 9,   1, 1, 2, 2, 4, 4, 4, 4, 6, 7, 7, 10),
    cause  = c("a","b","a","","a","b","","a","","b","",
               "c","a","b","","c","a","b","","a","","c","")),
  # only one cause occurs (lifelines / scikit-survival fail here), with ties
  one_cause = data.frame(
    group  = c(rep("A", 8), rep("B", 8)),
    strata = rep("s", 16),
    time   = c(2, 3, 3, 3, 5, 7, 7, 9,   1, 3, 4, 4, 6, 6, 8, 11),
    cause  = c("relapse","relapse","","relapse","","relapse","relapse","",
               "","relapse","relapse","","relapse","","","relapse")),
  # three groups; cause "late" occurs in group C only
  three = data.frame(
    group  = rep(c("A", "B", "C"), each = 7),
    strata = rep("s", 21),
    time   = c(1, 2, 3, 4, 5, 6, 7,   1, 2, 2, 4, 6, 8, 9,   2, 3, 5, 5, 7, 8, 10),
    cause  = c("early","early","","early","","early","",
               "early","","early","early","","early","",
               "early","late","","late","early","late","")),
  # times that differ by less than sqrt(eps): tied for survfit (timefix), not for cmprsk
  near_ties = data.frame(
    group  = c("A","B","A","B","A","B","A","B","A","B"),
    strata = "s",
    time   = c(1, 1 + 1e-10, 2, 2, 3 * (1 + 1e-12), 3, 4, 5 + 1e-9, 5, 6),
    cause  = c("a","b","","a","b","a","","a","","b")),
  # Gray's variance singular for cause "b" (cmprsk reports statistic -1, p 1)
  singular = data.frame(group = c("A", "A", "B", "B"), strata = "s", time = c(1, 2, 3, 4),
                        cause = c("a", "", "", "b"))
)
inp <- do.call(rbind, lapply(names(cif_sets), function(n) cbind(dataset = n, cif_sets[[n]])))
wcsv(inp, "input_cif.csv", digits = 17)

cif_rows <- list()
add_cif <- function(name, by, fit, conf_type, level) {
  st <- fit$states
  group <- if (is.null(fit$strata)) rep("all", length(fit$time)) else
    sub("^group=", "", rep(names(fit$strata), fit$strata))
  for (s in setdiff(st, "(s0)")) {
    j <- match(s, st)
    cif_rows[[length(cif_rows) + 1]] <<- data.frame(
      dataset = name, by = by, conf_type = conf_type, level = level, group = group, cause = s,
      time = fit$time, n_at_risk = fit$n.risk[, match("(s0)", st)], n_event = fit$n.event[, j],
      cif = fit$pstate[, j], std_err = fit$std.err[, j], ci_lower = fit$lower[, j],
      ci_upper = fit$upper[, j])
  }
}
for (name in names(cif_sets)) {
  d <- cif_sets[[name]]
  causes <- sort(unique(d$cause[d$cause != ""]))
  d$status <- factor(d$cause, levels = c("", causes))
  for (conf in c("default", "log-log", "plain")) {  # default: checked to be "log"
    for (level in c(0.95, 0.90)) {
      if (level == 0.90 && conf != "log-log") next
      # the large sets: default (log) limits only; the other types are checked on small sets
      if (name %in% c("mgus2", "colon") && conf != "default") next
      fit1 <- if (conf == "default") survfit(Surv(time, status) ~ 1, data = d, conf.int = level)
              else survfit(Surv(time, status) ~ 1, data = d, conf.type = conf, conf.int = level)
      if (conf == "default") stopifnot(fit1$conf.type == "log")  # multi-state default
      add_cif(name, "none", fit1, if (conf == "default") "log" else conf, level)
      if (conf %in% c("default", "log-log")) {
        fit2 <- if (conf == "default") survfit(Surv(time, status) ~ group, data = d, conf.int = level)
                else survfit(Surv(time, status) ~ group, data = d, conf.type = conf, conf.int = level)
        add_cif(name, "group", fit2, if (conf == "default") "log" else conf, level)
      }
    }
  }
}
wcsv(do.call(rbind, cif_rows), "cif.csv")

# ------------------------------------------------------------------ Gray's test
gray_rows <- list()
for (name in names(cif_sets)) {
  d <- cif_sets[[name]]
  for (use_strata in c(FALSE, TRUE)) {
    for (rho in c(0, 1)) {
      if (use_strata && length(unique(d$strata)) < 2) next
      if (rho != 0 && !(name %in% c("mgus2", "ties", "three"))) next
      ci <- if (use_strata) cuminc(d$time, d$cause, d$group, d$strata, rho = rho, cencode = "")
            else cuminc(d$time, d$cause, d$group, rho = rho, cencode = "")
      tt <- ci$Tests
      gray_rows[[length(gray_rows) + 1]] <- data.frame(
        dataset = name, strata = use_strata, rho = rho, cause = rownames(tt),
        statistic = tt[, "stat"], df = tt[, "df"], p_value = tt[, "pv"])
    }
  }
}
wcsv(do.call(rbind, gray_rows), "gray.csv")

# ------------------------------------------------------------------ right-censored sets
lg <- lung[!is.na(lung$ph.ecog) & lung$ph.ecog < 3, ]
km_sets <- list(
  lung = with(lung, data.frame(group = ifelse(sex == 1, "male", "female"), strata = "s",
                               time = time, event = as.integer(status == 2))),
  lung_ecog = with(lg, data.frame(group = paste0("ECOG ", ph.ecog),
                                  strata = ifelse(sex == 1, "male", "female"),
                                  time = time, event = as.integer(status == 2))),
  colon = with(rec, data.frame(group = as.character(rx), strata = ifelse(sex == 1, "male", "female"),
                               time = time, event = as.integer(status))),
  aml = with(aml, data.frame(group = as.character(x), strata = "s", time = time,
                             event = as.integer(status))),
  mgus2 = with(mgus2, data.frame(group = as.character(sex), strata = ifelse(age < 70, "<70", ">=70"),
                                 time = futime, event = as.integer(death))),
  # hand-made: ties of events and censorings; stratum "t" has events in group A only
  ties = data.frame(
    group  = c("A","A","A","A","A","A","A","A", "B","B","B","B","B","B","B","B"),
    strata = c("s","s","s","s","t","t","t","t", "s","s","s","s","t","t","t","t"),
    time   = c(1, 2, 2, 4, 3, 3, 6, 8,   2, 2, 3, 5, 3, 4, 7, 9),
    event  = c(1, 1, 0, 1, 1, 0, 1, 0,   1, 0, 1, 1, 0, 0, 0, 0)),
  # reverse KM flat at exactly 0.5: censorings at 1, 2, 3 (of 6, then 4 at risk ...)
  flat = data.frame(group = "A", strata = "s",
                    time  = c(1, 2, 3, 4, 6, 8),
                    event = c(0, 0, 0, 1, 0, 1)),
  # reverse KM at exactly 0.5 until its end: print gives 2, quantile the midpoint 3
  flat_end = data.frame(group = "A", strata = "s", time = c(1, 2, 3, 4), event = c(0, 0, 1, 1)),
  # times that differ by less than sqrt(eps) (survfit and survdiff: timefix = TRUE)
  near_ties = data.frame(group = rep(c("A", "B"), 5), strata = rep(c("s", "s", "t", "t"), length.out = 10),
                         time = c(1, 1 + 1e-10, 2, 3, 3 + 1e-9, 4, 5, 6 * (1 + 1e-12), 6, 7),
                         event = c(1, 1, 0, 1, 0, 1, 0, 0, 1, 1)),
  # everyone censored (reverse KM: every subject has an "event")
  all_censored = data.frame(group = "A", strata = "s", time = c(5, 10, 15, 15), event = 0)
)
inp <- do.call(rbind, lapply(names(km_sets), function(n) cbind(dataset = n, km_sets[[n]])))
wcsv(inp, "input_km.csv", digits = 17)

# RMST: tau between event times, at an event time, at the last time and beyond it
taus <- list(lung = c(100, 365, 500.5, 1022, 2000), aml = c(5, 10, 30.5, 161, 200),
             colon = c(365.25, 1826.25, 3329, 4000), mgus2 = c(12, 60, 182.5, 424, 500),
             ties = c(1, 2, 3.5, 9, 12), flat = c(2.5, 8, 10), all_censored = c(5, 15, 20),
             near_ties = c(3, 3 + 5e-10, 6.5))
# (a tau before the first time is refused by summary.survfit: "Truncation point ... < smallest")
rmst_rows <- list()
for (name in names(taus)) {
  d <- km_sets[[name]]
  fit <- survfit(Surv(time, event) ~ 1, data = d)
  for (tau in taus[[name]]) {
    tab <- summary(fit, rmean = tau)$table
    rmst_rows[[length(rmst_rows) + 1]] <- data.frame(
      dataset = name, tau = tau, rmean = tab[["rmean"]], se_rmean = tab[["se(rmean)"]])
  }
}
wcsv(do.call(rbind, rmst_rows), "rmst.csv")

# median follow-up: reverse Kaplan-Meier
fu_rows <- list()
for (name in c("lung", "colon", "aml", "mgus2", "ties", "flat", "flat_end", "all_censored",
                "near_ties")) {
  d <- km_sets[[name]]
  for (conf in c("log-log", "log", "plain")) {
    for (level in c(0.95, 0.90)) {
      fit <- survfit(Surv(time, 1 - event) ~ 1, data = d, conf.type = conf, conf.int = level)
      tab <- summary(fit)$table
      q <- quantile(fit, probs = 0.5)
      fu_rows[[length(fu_rows) + 1]] <- data.frame(
        dataset = name, conf_type = conf, level = level,
        median = tab[["median"]], ci_lower = tab[[paste0(level, "LCL")]],
        ci_upper = tab[[paste0(level, "UCL")]], q_median = as.vector(q$quantile),
        q_lower = as.vector(q$lower), q_upper = as.vector(q$upper))
    }
  }
}
wcsv(do.call(rbind, fu_rows), "followup.csv")

# log-rank: plain and stratified
lr_rows <- list()
for (name in c("lung", "lung_ecog", "colon", "aml", "mgus2", "ties", "near_ties")) {
  d <- km_sets[[name]]
  for (use_strata in c(FALSE, TRUE)) {
    if (use_strata && length(unique(d$strata)) < 2) next
    sd <- if (use_strata) survdiff(Surv(time, event) ~ group + strata(strata), data = d)
          else survdiff(Surv(time, event) ~ group, data = d)
    etmp <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
    df <- sum(etmp > 0) - 1
    lr_rows[[length(lr_rows) + 1]] <- data.frame(
      dataset = name, strata = use_strata, statistic = sd$chisq, df = df,
      p_value = pchisq(sd$chisq, df, lower.tail = FALSE))
  }
}
wcsv(do.call(rbind, lr_rows), "logrank.csv")

# ------------------------------------------------------------------ Turnbull
# Turnbull (JASA 1974) data, one row per subject: exact, right-censored (hi NA) and
# left-censored (lo NA) at times 1-4
tb <- data.frame(time = c(1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4), status = rep(c(1, 0, 2), 4),
                 n = c(12, 3, 2, 6, 2, 4, 2, 0, 2, 3, 3, 5))
tb <- tb[rep(seq_len(nrow(tb)), tb$n), ]
# lung with widened intervals: deaths known only to 60-day visit windows (every 4th exact),
# censorings right-censored at the last contact
ev <- lung$status == 2
lo <- ifelse(ev, 60 * floor(lung$time / 60), lung$time)
hi <- ifelse(ev, 60 * floor(lung$time / 60) + 60, NA)
exact <- ev & (seq_along(ev) %% 4 == 0)
lo[exact] <- lung$time[exact]; hi[exact] <- lung$time[exact]
int_sets <- list(
  turnbull1974 = data.frame(lo = ifelse(tb$status == 2, NA, tb$time),
                            hi = ifelse(tb$status == 0, NA, tb$time)),
  # hand-made: overlapping intervals, exact times, a left-censored one, right-censored ones
  hand = data.frame(lo = c(0, 1, 2, 2, 3, 4, 4, 5, 6, 7, NA, 3, 8, 1.5, 9),
                    hi = c(2, 3, 2, 5, 6, 4, 8, NA, 9, NA, 3, 3, NA, 4, 12)),
  lung = data.frame(lo = lo, hi = hi),
  # only exact and right-censored times (R still runs its EM on them)
  exact_right = data.frame(lo = c(1, 2, 2, 3, 4, 5, 6, 6), hi = c(1, 2, NA, 3, NA, 5, NA, 6)),
  # a left-censored time before every jump point (R treats it as exact)
  early_left = data.frame(lo = c(NA, 2, 3, 4, 5, 6), hi = c(1, 4, 3, 7, NA, 8)),
  # nearly equal times (timefix): the interval (2 + 1e-10, 6] becomes (2, 6]
  near_ties = data.frame(lo = c(2, 2, 2 + 1e-10, 4, 5, 3), hi = c(3, 2, 6, NA, 7, 5 * (1 + 1e-12)))
)
inp <- do.call(rbind, lapply(names(int_sets), function(n) cbind(dataset = n, int_sets[[n]])))
wcsv(inp, "input_interval.csv", digits = 17)
tb_rows <- list()
for (name in names(int_sets)) {
  d <- int_sets[[name]]
  fit <- survfit(Surv(lo, hi, type = "interval2") ~ 1, data = d)
  tb_rows[[length(tb_rows) + 1]] <- data.frame(dataset = name, time = fit$time, survival = fit$surv)
}
wcsv(do.call(rbind, tb_rows), "turnbull.csv")

writeLines(c(R.version.string,
             paste("survival", as.character(packageVersion("survival"))),
             paste("cmprsk", as.character(packageVersion("cmprsk")))),
           file.path(out_dir, "VERSIONS.txt"))
cat("wrote", out_dir, "\n")
