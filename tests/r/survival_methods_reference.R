# Reference values for notebook 02's methods on a whole data folder (issue 13): curves kept
# apart by study, stratified log-rank within a study, cumulative incidence of competing causes
# and Gray's test, RMST, median follow-up by reverse Kaplan-Meier, Turnbull's estimate of the
# curves with imprecise times (coded cases and interval-censored IPD rows), and the exact
# interval of cohort statements.
#
# Regenerate (from the repository root) with:
#     Rscript tests/r/survival_methods_reference.R
# Needs r-base-core, r-cran-survival and r-cran-cmprsk (Debian); versions are written to
# tests/r/methods/VERSIONS.txt.
#
# Writes the data folder tests/reference_data/methods_folder/ (sources, patients, events,
# cohort_outcomes, ipd/mgus.csv, ipd/trial.csv; test data, not evidence) and the expected values
# tests/r/methods/{km_summary,logrank,cif,gray,rmst,followup,turnbull,statements}.csv.
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
root <- normalizePath(file.path(dirname(script), "..", ".."))
folder <- file.path(root, "tests", "reference_data", "methods_folder")
out_dir <- file.path(root, "tests", "r", "methods")
dir.create(file.path(folder, "ipd"), showWarnings = FALSE, recursive = TRUE)
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

num <- function(x, digits = 15) ifelse(is.na(x), "", sprintf(paste0("%.", digits, "g"), x))
wcsv <- function(df, path, digits = 15) {
  for (col in names(df)) if (is.numeric(df[[col]])) df[[col]] <- num(df[[col]], digits)
  write.csv(df, path, row.names = FALSE, na = "")
}
MONTH <- 365.25 / 12

# ------------------------------------------------------------------ the data folder
# IPD 1: monoclonal gammopathy (survival::mgus2, 400 patients drawn with seed 13): progression
# to a plasma-cell malignancy ("relapse") or death, by sex, strata = age < 70 / >= 70, months.
# Every 5th event is known only to a 6-month window (time empty, time_lo / time_hi).
set.seed(13)
mg <- mgus2[sort(sample(nrow(mgus2), 400)), ]
mg_time <- ifelse(mg$pstat == 1, mg$ptime, mg$futime)
mg_event <- as.integer(mg$pstat == 1 | mg$death == 1)
mg_cause <- ifelse(mg$pstat == 1, "relapse", ifelse(mg$death == 1, "death", ""))
interval <- mg_event == 1 & (cumsum(mg_event) %% 5 == 0)
lo <- ifelse(interval, 6 * floor(mg_time / 6), NA)
hi <- ifelse(interval, 6 * floor(mg_time / 6) + 6, NA)
mgus <- data.frame(study = "M-mgus", patient_id = mg$id, group = as.character(mg$sex),
                   time = ifelse(interval, NA, mg_time), time_unit = "months", event = mg_event,
                   disease = "", therapy = "", outcome_id = "", cause = mg_cause,
                   strata = ifelse(mg$age < 70, "<70", ">=70"), time_lo = lo, time_hi = hi)
wcsv(mgus, file.path(folder, "ipd", "mgus.csv"), digits = 17)
# IPD 2: a small two-arm "trial" (aml, months), never compared with M-mgus
tr <- aml
trial <- data.frame(study = "M-trial", patient_id = seq_len(nrow(tr)),
                    group = ifelse(tr$x == "Maintained", "A", "B"), time = tr$time, time_unit = "months",
                    event = tr$status, disease = "", therapy = "", outcome_id = "M-trial-O1",
                    cause = ifelse(tr$status == 1, ifelse(seq_len(nrow(tr)) %% 4 == 0, "death", "relapse"), ""),
                    strata = "", time_lo = NA, time_hi = NA)
wcsv(trial, file.path(folder, "ipd", "trial.csv"), digits = 17)

sources <- data.frame(
  source_id = c("M-mgus", "M-trial", "M-cases"), kind = c("cohort", "trial", "case_series"),
  citation = c("R package survival, data set mgus2 (test data, not evidence)",
               "R package survival, data set aml (test data, not evidence)",
               "Six synthetic cases with imprecise times (test data, not evidence)"),
  year = c(2002, 1977, 2024), link = "", evidence_level = c("uncontrolled_study", "rct", "case_series"),
  text_file = "", notes = "Reference data for tests/test_survival_methods.py")
write.csv(sources, file.path(folder, "sources.csv"), row.names = FALSE, na = "")
cases <- data.frame(
  pid = paste0("C", 1:6),
  kind = c("relapse", "last_followup", "death", "relapse", "relapse", "last_followup"),
  offset = c("+6 months", "+24 months", "+10 months", "+1 years", "+18 months", "+30 months"),
  qualifier = c("within", "about", "", "at_least", "about", ""))
patients <- data.frame(patient_id = cases$pid, source_id = "M-cases", case_role = "autoimmune_case",
                       sex = "F", age_years = 40, diseases = "lupus", comorbidity = "", therapy = "UC-MSC",
                       quote = "q", notes = "")
write.csv(patients, file.path(folder, "patients.csv"), row.names = FALSE, na = "")
events <- do.call(rbind, lapply(seq_len(nrow(cases)), function(i) data.frame(
  event_id = paste0(cases$pid[i], c("-E1", "-E2")), patient_id = cases$pid[i], line = 1,
  event_type = c("infusion", cases$kind[i]), status = "", disease = "", detail = "",
  product = c("UC-MSC", ""), dose = "", dose_unit = "", date = c("2010-01-15", ""),
  offset = c("", cases$offset[i]), offset_from = c("", paste0(cases$pid[i], "-E1")),
  qualifier = c("", cases$qualifier[i]), source_id = "M-cases", quote = "q", notes = "")))
write.csv(events, file.path(folder, "events.csv"), row.names = FALSE, na = "")
outcomes <- data.frame(
  outcome_id = c("M-mgus-O1", "M-mgus-O2", "M-trial-O1"), source_id = c("M-mgus", "M-mgus", "M-trial"),
  study = c("MGUS cohort", "MGUS cohort", "AML trial"), arm = c("all", "all", "A"),
  arm_role = c("single_arm", "single_arm", "intervention"), cohort_group = "",
  disease = c("monoclonal gammopathy", "monoclonal gammopathy", "acute myeloid leukaemia"),
  therapy = c("observation", "observation", "maintenance chemotherapy"), cell_source = "",
  design = c("uncontrolled_cohort", "uncontrolled_cohort", "rct"), controlled = c("no", "no", "yes"),
  outcome = c("relapse_free", "relapse", "response"), definition = "test",
  events = c(30, 9, 5), total = c(41, 37, 11), total_qualifier = "exact", proportion = "",
  proportion_qualifier = "", approximate = "no", time_value = c(5, 5, ""), time_unit = c("years", "years", ""),
  time_qualifier = c("at", "at", ""), quote = "q", notes = "")
write.csv(outcomes, file.path(folder, "cohort_outcomes.csv"), row.names = FALSE, na = "")

# ------------------------------------------------------------------ the analysis data, as R sees it
# cases: the intervals (months) the coded offsets stand for; best = within: middle, about: stated
case_df <- data.frame(
  curve = "case reports", time = c(3, 24, 10, 12, 18, 30),
  lo = c(0, 24 * 0.9, 10, 12, 18 * 0.9, 30), hi = c(6, 24 * 1.1, 10, Inf, 18 * 1.1, 30),
  event = c(1, 0, 1, 1, 1, 0), cause = c("relapse", "", "death", "relapse", "relapse", ""), strata = "")
ipd_df <- rbind(
  data.frame(curve = paste0("M-mgus: ", mgus$group),
             time = ifelse(is.na(mgus$time), (mgus$time_lo + mgus$time_hi) / 2, mgus$time),
             lo = ifelse(is.na(mgus$time_lo), mgus$time, mgus$time_lo),
             hi = ifelse(is.na(mgus$time_hi), mgus$time, mgus$time_hi),
             event = mgus$event, cause = mgus$cause, strata = mgus$strata),
  data.frame(curve = paste0("M-trial: ", trial$group), time = trial$time, lo = trial$time, hi = trial$time,
             event = trial$event, cause = trial$cause, strata = trial$strata))
all <- rbind(case_df, ipd_df)
all$study <- sub(":.*", "", all$curve)
curves <- sort(unique(all$curve))

km_rows <- list(); rm_rows <- list(); fu_rows <- list(); tb_rows <- list(); cif_rows <- list()
for (cv in curves) {
  d <- all[all$curve == cv, ]
  fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log")
  tab <- summary(fit)$table
  km_rows[[cv]] <- data.frame(curve = cv, n = tab[["records"]], events = tab[["events"]],
                              median = tab[["median"]], median_ci_lower = tab[["0.95LCL"]],
                              median_ci_upper = tab[["0.95UCL"]])
  for (tau in c(12, 60)) {
    t2 <- summary(fit, rmean = tau)$table
    rm_rows[[paste(cv, tau)]] <- data.frame(curve = cv, tau = tau, rmst = t2[["rmean"]], se = t2[["se(rmean)"]])
  }
  rev <- survfit(Surv(time, 1 - event) ~ 1, data = d, conf.type = "log-log")
  rt <- summary(rev)$table
  fu_rows[[cv]] <- data.frame(curve = cv, median_followup = rt[["median"]], ci_lower = rt[["0.95LCL"]],
                              ci_upper = rt[["0.95UCL"]])
  # Turnbull where a time is imprecise: events in (max(lo, 0), hi], censored known to lo
  if (any(d$hi - pmax(d$lo, 0) > 1 / MONTH & d$event == 1) || any(d$time - d$lo > 1 / MONTH & d$event == 0)) {
    tlo <- pmax(d$lo, 0)
    thi <- ifelse(d$event == 1, ifelse(is.finite(d$hi), d$hi, NA), NA)
    tf <- survfit(Surv(tlo, thi, type = "interval2") ~ 1)
    tb_rows[[cv]] <- data.frame(curve = cv, time = tf$time, survival = tf$surv)
  }
  causes <- sort(unique(d$cause[d$cause != ""]))
  d$status <- factor(d$cause, levels = c("", causes))
  cf <- survfit(Surv(time, status) ~ 1, data = d, conf.type = "log-log")
  for (s in causes) {
    j <- match(s, cf$states)
    cif_rows[[paste(cv, s)]] <- data.frame(curve = cv, cause = s, time = cf$time, cif = cf$pstate[, j],
                                           ci_lower = cf$lower[, j], ci_upper = cf$upper[, j])
  }
}
wcsv(do.call(rbind, km_rows), file.path(out_dir, "km_summary.csv"))
wcsv(do.call(rbind, rm_rows), file.path(out_dir, "rmst.csv"))
wcsv(do.call(rbind, fu_rows), file.path(out_dir, "followup.csv"))
wcsv(do.call(rbind, tb_rows), file.path(out_dir, "turnbull.csv"))
wcsv(do.call(rbind, cif_rows), file.path(out_dir, "cif.csv"))

# tests within each study only (the curves of M-mgus, of M-trial); stratified by `strata`
lr_rows <- list(); gray_rows <- list()
for (st in c("M-mgus", "M-trial")) {
  d <- all[all$study == st, ]
  for (use in c(FALSE, TRUE)) {
    if (use && length(unique(d$strata)) < 2) next
    sd <- if (use) survdiff(Surv(time, event) ~ curve + strata(strata), data = d)
          else survdiff(Surv(time, event) ~ curve, data = d)
    etmp <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
    df <- sum(etmp > 0) - 1
    lr_rows[[paste(st, use)]] <- data.frame(study = st, strata = use, statistic = sd$chisq, df = df,
                                            p_value = pchisq(sd$chisq, df, lower.tail = FALSE))
    ci <- if (use) cuminc(d$time, d$cause, d$curve, d$strata, cencode = "")
          else cuminc(d$time, d$cause, d$curve, cencode = "")
    tt <- ci$Tests
    gray_rows[[paste(st, use)]] <- data.frame(study = st, strata = use, cause = rownames(tt),
                                              statistic = tt[, "stat"], df = tt[, "df"], p_value = tt[, "pv"])
  }
}
wcsv(do.call(rbind, lr_rows), file.path(out_dir, "logrank.csv"))
wcsv(do.call(rbind, gray_rows), file.path(out_dir, "gray.csv"))

# cohort statements: exact (Clopper-Pearson) intervals, as binom.test
st_rows <- list()
for (x in list(c("M-mgus-O1", 30, 41), c("M-mgus-O2", 37 - 9, 37))) {
  bt <- binom.test(as.numeric(x[2]), as.numeric(x[3]))
  st_rows[[x[1]]] <- data.frame(outcome_id = x[1], survival = as.numeric(x[2]) / as.numeric(x[3]),
                                ci_lower = bt$conf.int[1], ci_upper = bt$conf.int[2])
}
wcsv(do.call(rbind, st_rows), file.path(out_dir, "statements.csv"))

writeLines(c(R.version.string,
             paste("survival", as.character(packageVersion("survival"))),
             paste("cmprsk", as.character(packageVersion("cmprsk")))),
           file.path(out_dir, "VERSIONS.txt"))
cat("wrote", folder, "and", out_dir, "\n")
