# Expected values for tests/test_rates.py, computed with R metafor (escalc + rma + predict)
# and R's binom.test / prop.test.
#
# Run from the project root:   Rscript tests/r/metafor_reference.R
# Writes (next to this script):
#   input_proportions.csv          the data sets used (dataset, subgroup, study, xi, ni)
#   expected_metafor_intervals.csv per-study Clopper-Pearson (binom.test) and Wilson
#                                  (prop.test, correct = FALSE) 95% intervals
#   expected_metafor_escalc.csv    escalc(measure = "PLO" / "PFT") yi, vi with defaults
#   expected_metafor_pooled.csv    rma(method = REML / DL / PM) with metafor's defaults,
#                                  predict(transf = transf.ilogit) or
#                                  predict(transf = transf.ipft.hm, targs = list(ni = ni));
#                                  control = "default" or "exact" (threshold = tol = 1e-12)
#
# Data sets:
#   pritz1997   metadat::dat.pritz1997 (14 single-arm studies of hyperdynamic therapy for
#               cerebral vasospasm; Zhou, Brizendine & Pritz, Stat Med 1999;18:557-566).
#               Contains n/n studies (10/10, 12/12), so the logit continuity correction is used.
#   debruin2009 metadat::dat.debruin2009 (13 standard-care arms of HAART-adherence trials;
#               de Bruin et al., Health Psychol 2009;28:668-674), subgroups = ethnicity.
#   zeros       synthetic (tests only): 0/n and n/n studies mixed with others.
#   homogeneous synthetic (tests only): Q < k - 1, so tau2 = 0 for every estimator.
#   combined    pritz1997 and debruin2009 together (the "All studies" row of the
#               reference data folder tests/reference_data/rates_metadat).

suppressMessages(library(metafor))
out_dir <- "tests/r"
if (!dir.exists(out_dir)) stop("run from the project root")

pritz <- metadat::dat.pritz1997
debruin <- metadat::dat.debruin2009
sets <- list(
  pritz1997 = data.frame(subgroup = "all", study = pritz$authors, xi = pritz$xi, ni = pritz$ni),
  debruin2009 = data.frame(subgroup = debruin$ethnicity,
                           study = paste0(debruin$author, " (", debruin$year, ")"),
                           xi = debruin$xi, ni = debruin$ni),
  zeros = data.frame(subgroup = "all", study = paste("Synthetic", 1:7),
                     xi = c(0, 3, 12, 8, 0, 5, 20), ni = c(9, 14, 12, 30, 25, 5, 41)),
  homogeneous = data.frame(subgroup = "all", study = paste("Synthetic", 1:5),
                           xi = c(10, 11, 9, 12, 10), ni = c(40, 42, 38, 45, 41))
)
inp <- do.call(rbind, lapply(names(sets), function(nm) cbind(dataset = nm, sets[[nm]])))
write.csv(inp, file.path(out_dir, "input_proportions.csv"), row.names = FALSE)

f <- function(x) sprintf("%.17g", x)

# per-study intervals
iv <- do.call(rbind, lapply(seq_len(nrow(inp)), function(i) {
  x <- inp$xi[i]; n <- inp$ni[i]
  cp <- binom.test(x, n, conf.level = 0.95)$conf.int
  wi <- suppressWarnings(prop.test(x, n, correct = FALSE, conf.level = 0.95)$conf.int)
  data.frame(dataset = inp$dataset[i], study = inp$study[i], xi = x, ni = n,
             cp_lower = f(cp[1]), cp_upper = f(cp[2]), wilson_lower = f(wi[1]), wilson_upper = f(wi[2]))
}))
write.csv(iv, file.path(out_dir, "expected_metafor_intervals.csv"), row.names = FALSE)

measures <- c(logit = "PLO", `freeman-tukey` = "PFT")
es <- do.call(rbind, lapply(names(measures), function(tr) {
  e <- escalc(measure = measures[[tr]], xi = xi, ni = ni, data = inp)
  data.frame(dataset = inp$dataset, study = inp$study, transform = tr, yi = f(e$yi), vi = f(e$vi))
}))
write.csv(es, file.path(out_dir, "expected_metafor_escalc.csv"), row.names = FALSE)

pool <- function(d, dataset, subgroup, method, tr, control_name) {
  ctrl <- if (control_name == "exact") list(threshold = 1e-12, tol = 1e-12, maxiter = 1000) else list()
  e <- escalc(measure = measures[[tr]], xi = xi, ni = ni, data = d)
  r <- rma(yi, vi, data = e, method = method, control = ctrl)
  p <- if (tr == "logit") predict(r, transf = transf.ilogit) else
    predict(r, transf = transf.ipft.hm, targs = list(ni = d$ni))
  data.frame(dataset = dataset, subgroup = subgroup, method = method, transform = tr,
             control = control_name, k = r$k, total = sum(d$ni),
             pooled = f(p$pred), ci_lower = f(p$ci.lb), ci_upper = f(p$ci.ub),
             pi_lower = f(p$pi.lb), pi_upper = f(p$pi.ub),
             tau2 = f(r$tau2), i2 = f(r$I2), h2 = f(r$H2), q = f(r$QE), q_p_value = f(r$QEp),
             estimate_transformed = f(as.numeric(r$beta)), se = f(r$se))
}
jobs <- list()
for (nm in names(sets)) {
  d <- sets[[nm]]
  jobs[[length(jobs) + 1]] <- list(d = d, dataset = nm, subgroup = "All studies")
  if (length(unique(d$subgroup)) > 1)
    for (g in sort(unique(d$subgroup)))
      jobs[[length(jobs) + 1]] <- list(d = d[d$subgroup == g, ], dataset = nm, subgroup = g)
}
jobs[[length(jobs) + 1]] <- list(d = rbind(sets$pritz1997, sets$debruin2009),
                                 dataset = "combined", subgroup = "All studies")
res <- list()
for (j in jobs) for (m in c("REML", "DL", "PM")) for (tr in names(measures))
  for (ctl in c("default", "exact"))
    res[[length(res) + 1]] <- pool(j$d, j$dataset, j$subgroup, m, tr, ctl)
write.csv(do.call(rbind, res), file.path(out_dir, "expected_metafor_pooled.csv"), row.names = FALSE)
cat("metafor", as.character(packageVersion("metafor")), "- wrote expected values to", out_dir, "\n")
