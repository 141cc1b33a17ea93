# Expected values for tests/test_pooling.py (src/analysis/pooling.py and glmm.py),
# computed with R metafor (rma, predict, leave1out, rma.glmm, escalc) and lme4.
#
# Run from the project root:   Rscript tests/r/pooling_reference.R
# Needs: metafor (>= 3.8), lme4, nloptr (for the tightly converged GLMM fits).
# Writes, under tests/r/pooling/ (numbers with 15 significant digits):
#   inputs_proportions.csv  the proportion sets (set, study, xi, ni) with escalc PLO yi, vi
#   inputs_2x2.csv          the two-arm sets (set, study, ai, n1i, ci, n2i)
#   rma.csv                 rma(yi, vi, method = REML/DL/PM, test = z/knha) on every set:
#                           estimate, se, CI, tau2, I2, QE, QEp and two prediction
#                           intervals: pi_z_* (est +/- z * sqrt(tau2 + se^2)) and
#                           pi_t_* (est +/- t_{k-1} * sqrt(tau2 + se^2))
#   leave1out.csv           leave1out() of some of those fits
#   glmm.csv                rma.glmm(measure = "PLO", method = "ML") (lme4::glmer, nAGQ = 7);
#                           fit = "default" (metafor's and lme4's default control) and
#                           fit = "tight" (the same model with the optimiser run to
#                           convergence: nloptwrap with xtol/ftol 1e-14/1e-15)
#   exact.csv               binom.test(sum(xi), sum(ni)) (Clopper-Pearson)
#   subgroup.csv            rma(yi = est_g, sei = se_g, method = "FE") QE, QEp (the test for
#                           subgroup differences with a separate tau2 in every subgroup), of
#                           rma fits and (name GLMM_z) of tightly converged rma.glmm fits
#   glmm_leave1out.csv      rma.glmm (tight) refitted without each study in turn
#   glmm_hard.csv           rma.glmm (tight) on three very heterogeneous sets with 0/n or n/n studies
#   escalc.csv              escalc(measure = RR/OR/RD) yi, vi and the 95% CI on the effect scale
#   VERSIONS.txt            R and package versions that made the files
#
# Prediction intervals. metafor's predict() gives est +/- z * sqrt(tau2 + se^2) after
# test = "z" and est +/- t_{k-1} * sqrt(tau2 + se^2) after test = "knha" (se is then the
# Knapp-Hartung se); predict(pi.type = "t") uses t_{k-1} whatever the test. R meta (>= 8.0,
# method.predict = "V", its default) also uses t_{k-1} (meta <= 7: "HTS", t_{k-2}); meta is
# not installed here, so the t interval is taken from metafor's predict(pi.type = "t") and
# checked against the formula written out in R below. The z interval after test = "knha"
# (no metafor option gives it) is the formula written out in R.
#
# All data sets are SYNTHETIC test data made up for these tests; they describe no study.

suppressMessages({
  library(metafor)
  library(lme4)
})
out_dir <- "tests/r/pooling"
if (!dir.exists("tests/r")) stop("run from the project root")
dir.create(out_dir, showWarnings = FALSE)
f <- function(x) ifelse(is.na(x), NA, sprintf("%.15g", x))
wcsv <- function(d, name) write.csv(d, file.path(out_dir, name), row.names = FALSE, na = "")

# --------------------------------------------------------------------------- data (synthetic)
props <- list(
  k1        = list(xi = 7,                             ni = 30),
  k2        = list(xi = c(3, 9),                       ni = c(20, 25)),
  k3_zero   = list(xi = c(0, 4, 7),                    ni = c(15, 22, 30)),
  k4_mixed  = list(xi = c(0, 5, 12, 20),               ni = c(10, 50, 12, 64)),
  k5_full   = list(xi = c(2, 10, 15, 6, 20),           ni = c(40, 30, 15, 50, 45)),
  k6_homog  = list(xi = c(10, 11, 9, 12, 10, 11),      ni = c(50, 52, 48, 55, 50, 49)),
  k8_het    = list(xi = c(4, 12, 7, 30, 9, 15, 2, 25), ni = c(35, 40, 60, 80, 25, 50, 30, 60)),
  k8_sparse = list(xi = c(0, 0, 1, 0, 2, 0, 0, 0),   ni = c(20, 30, 25, 40, 33, 12, 15, 60)),
  k3_large  = list(xi = c(5000, 30, 2),                ni = c(10000, 100, 50)),
  all_zero  = list(xi = c(0, 0, 0),                    ni = c(120, 300, 361))
)
two_arm <- list(
  cmp5 = data.frame(ai = c(5, 0, 0, 12, 20), n1i = c(50, 30, 25, 40, 20),
                    ci = c(10, 4, 0, 12, 15), n2i = c(48, 31, 27, 40, 22)),
  cmp4 = data.frame(ai = c(8, 3, 15, 1), n1i = c(60, 45, 70, 33),
                    ci = c(14, 9, 16, 6), n2i = c(58, 47, 69, 35))
)

inp <- do.call(rbind, lapply(names(props), function(s) {
  p <- props[[s]]
  e <- escalc(measure = "PLO", xi = p$xi, ni = p$ni)
  data.frame(set = s, study = seq_along(p$xi), xi = p$xi, ni = p$ni, yi = f(e$yi), vi = f(e$vi))
}))
wcsv(inp, "inputs_proportions.csv")
wcsv(do.call(rbind, lapply(names(two_arm), function(s) cbind(set = s, study = seq_len(nrow(two_arm[[s]])), two_arm[[s]]))),
     "inputs_2x2.csv")

# effect sizes that rma() is run on: PLO of every proportion set, RR/OR/RD of the 2x2 sets
es_sets <- list()
for (s in names(props)) {
  e <- escalc(measure = "PLO", xi = props[[s]]$xi, ni = props[[s]]$ni)
  es_sets[[paste0(s, ":PLO")]] <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
}
for (s in names(two_arm)) for (m in c("RR", "OR", "RD")) {
  d <- two_arm[[s]]
  e <- escalc(measure = m, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i)
  es_sets[[paste0(s, ":", m)]] <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
}

# --------------------------------------------------------------------------- rma + predict
pi_rows <- function(r, level) {
  est <- as.numeric(r$beta); se <- r$se; k <- r$k
  half_var <- sqrt(r$tau2 + se^2)
  z <- qnorm(1 - (1 - level) / 2)
  if (k > 1) {
    t <- qt(1 - (1 - level) / 2, df = k - 1)
    pt_ <- predict(r, pi.type = "t")
    stopifnot(isTRUE(all.equal(c(pt_$pi.lb, pt_$pi.ub), c(est - t * half_var, est + t * half_var), tolerance = 1e-12)))
    p <- predict(r)
    if (r$test == "z") stopifnot(isTRUE(all.equal(p$pi.lb, est - z * half_var, tolerance = 1e-12)))
    else stopifnot(isTRUE(all.equal(p$pi.lb, pt_$pi.lb, tolerance = 1e-12)))
    c(pi_z_lower = est - z * half_var, pi_z_upper = est + z * half_var,
      pi_t_lower = pt_$pi.lb, pi_t_upper = pt_$pi.ub)
  } else c(pi_z_lower = NA, pi_z_upper = NA, pi_t_lower = NA, pi_t_upper = NA)
}
rma_row <- function(set, method, test, level = 0.95) {
  d <- es_sets[[set]]
  r <- suppressWarnings(rma(d$yi, d$vi, method = method, test = test, level = 100 * level))
  pis <- pi_rows(r, level)
  data.frame(set = set, method = method, test = test, level = level, k = r$k,
             test_used = r$test, estimate = f(as.numeric(r$beta)), se = f(r$se),
             ci_lower = f(r$ci.lb), ci_upper = f(r$ci.ub), tau2 = f(r$tau2), i2 = f(r$I2),
             q = f(r$QE), q_p_value = f(r$QEp),
             pi_z_lower = f(pis[["pi_z_lower"]]), pi_z_upper = f(pis[["pi_z_upper"]]),
             pi_t_lower = f(pis[["pi_t_lower"]]), pi_t_upper = f(pis[["pi_t_upper"]]))
}
rows <- list()
for (s in names(es_sets)) for (m in c("REML", "DL", "PM")) for (tt in c("z", "knha"))
  rows[[length(rows) + 1]] <- rma_row(s, m, tt)
rows[[length(rows) + 1]] <- rma_row("k8_het:PLO", "REML", "z", level = 0.90)
rows[[length(rows) + 1]] <- rma_row("k8_het:PLO", "PM", "knha", level = 0.80)
wcsv(do.call(rbind, rows), "rma.csv")

# --------------------------------------------------------------------------- leave1out
rows <- list()
for (s in c("k2:PLO", "k3_zero:PLO", "k5_full:PLO", "k8_het:PLO", "cmp5:RR"))
  for (m in c("REML", "DL", "PM")) for (tt in c("z", "knha")) {
    d <- es_sets[[s]]
    r <- suppressWarnings(rma(d$yi, d$vi, method = m, test = tt))
    l <- suppressWarnings(leave1out(r))
    rows[[length(rows) + 1]] <- data.frame(set = s, method = m, test = tt, left_out = seq_along(l$estimate),
      estimate = f(l$estimate), se = f(l$se), ci_lower = f(l$ci.lb), ci_upper = f(l$ci.ub),
      tau2 = f(l$tau2), i2 = f(l$I2), q = f(l$Q), q_p_value = f(l$Qp))
  }
wcsv(do.call(rbind, rows), "leave1out.csv")

# --------------------------------------------------------------------------- rma.glmm (PLO)
tight <- list(glmerCtrl = list(optimizer = "nloptwrap",
                               optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14,
                                              ftol_rel = 1e-15, maxeval = 1e5)))
check <- list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
rows <- list()
gap <- c()
for (s in c("k2", "k3_zero", "k4_mixed", "k5_full", "k6_homog", "k8_het", "k8_sparse", "k3_large")) {
  p <- props[[s]]
  for (fit in c("default", "tight")) {
    ctrl <- if (fit == "tight") tight else list()
    g <- suppressWarnings(rma.glmm(measure = "PLO", xi = p$xi, ni = p$ni, method = "ML", control = ctrl))
    gt <- suppressWarnings(rma.glmm(measure = "PLO", xi = p$xi, ni = p$ni, method = "ML", test = "t", control = ctrl))
    pis <- pi_rows(g, 0.95)
    if (fit == "tight") {  # a second optimiser run to convergence: how well defined is "exact"?
      g2 <- suppressWarnings(rma.glmm(measure = "PLO", xi = p$xi, ni = p$ni, method = "ML", control = check))
      gap <- rbind(gap, c(beta = abs(g2$beta - g$beta), se = abs(g2$se - g$se), tau2 = abs(g2$tau2 - g$tau2)))
    }
    rows[[length(rows) + 1]] <- data.frame(set = s, fit = fit, k = g$k,
      estimate = f(as.numeric(g$beta)), se = f(g$se), ci_lower = f(g$ci.lb), ci_upper = f(g$ci.ub),
      ci_t_lower = f(gt$ci.lb), ci_t_upper = f(gt$ci.ub), tau2 = f(g$tau2), i2 = f(g$I2), vt = f(g$vt),
      q = f(g$QE.Wld), q_p_value = f(g$QEp.Wld), q_lrt = f(g$QE.LRT),
      pi_z_lower = f(pis[["pi_z_lower"]]), pi_z_upper = f(pis[["pi_z_upper"]]),
      pi_t_lower = f(pis[["pi_t_lower"]]), pi_t_upper = f(pis[["pi_t_upper"]]))
  }
}
wcsv(do.call(rbind, rows), "glmm.csv")
cat("GLMM: largest difference between the two tightly converged optimisers (nloptwrap, bobyqa):\n")
print(apply(gap, 2, max))

# --------------------------------------------------------------------------- exact pooled count
rows <- lapply(names(props), function(s) {
  x <- sum(props[[s]]$xi); n <- sum(props[[s]]$ni)
  rows90 <- binom.test(x, n, conf.level = 0.90)$conf.int
  ci <- binom.test(x, n)$conf.int
  data.frame(set = s, events = x, total = n, proportion = f(x / n), ci_lower = f(ci[1]), ci_upper = f(ci[2]),
             ci90_lower = f(rows90[1]), ci90_upper = f(rows90[2]))
})
wcsv(do.call(rbind, rows), "exact.csv")

# --------------------------------------------------------------------------- subgroup differences
sub_fit <- function(sets, method, test) {
  fits <- lapply(sets, function(s) rma(es_sets[[s]]$yi, es_sets[[s]]$vi, method = method, test = test))
  est <- sapply(fits, function(r) as.numeric(r$beta)); se <- sapply(fits, function(r) r$se)
  fe <- rma(yi = est, sei = se, method = "FE")
  data.frame(name = paste(method, test, sep = "_"), sets = paste(sets, collapse = " "),
             estimates = paste(f(est), collapse = " "), ses = paste(f(se), collapse = " "),
             q = f(fe$QE), df = length(sets) - 1, q_p_value = f(fe$QEp))
}
sub_rows <- rbind(sub_fit(c("k3_zero:PLO", "k5_full:PLO", "k8_het:PLO"), "REML", "z"),
                  sub_fit(c("k3_zero:PLO", "k6_homog:PLO", "k8_het:PLO", "k4_mixed:PLO"), "DL", "z"),
                  sub_fit(c("k6_homog:PLO", "k8_het:PLO"), "PM", "knha"))
wcsv(sub_rows, "subgroup.csv")  # written again below with the GLMM row

# --------------------------------------------------------------------------- GLMM: leave-one-out, subgroups
# rma.glmm refitted without study i (metafor's leave1out does not take rma.glmm fits), tightly
# converged as above; and the test for subgroup differences from GLMM subgroup fits
rows <- list()
for (s in c("k4_mixed", "k5_full", "k8_het")) {
  p <- props[[s]]
  for (i in seq_along(p$xi)) {
    g <- suppressWarnings(rma.glmm(measure = "PLO", xi = p$xi[-i], ni = p$ni[-i], method = "ML", control = tight))
    pis <- pi_rows(g, 0.95)
    rows[[length(rows) + 1]] <- data.frame(set = s, left_out = i, k = g$k, estimate = f(as.numeric(g$beta)),
      se = f(g$se), ci_lower = f(g$ci.lb), ci_upper = f(g$ci.ub), tau2 = f(g$tau2), i2 = f(g$I2),
      pi_t_lower = f(pis[["pi_t_lower"]]), pi_t_upper = f(pis[["pi_t_upper"]]))
  }
}
wcsv(do.call(rbind, rows), "glmm_leave1out.csv")
# sets where the minimiser can settle in a pocket of lme4's deviance (PIRLS stopping one
# iteration early at a flat likelihood): very heterogeneous, with 0/n or n/n studies
hard <- list(hard_nn = list(xi = c(2, 10, 15, 6), ni = c(40, 30, 15, 50)),
             hard_mixed = list(xi = c(2, 34, 38, 0, 33), ni = c(8, 43, 87, 106, 66)),
             hard_zeros = list(xi = c(9, 40, 0, 0, 0), ni = c(18, 56, 14, 93, 109)))
rows <- lapply(names(hard), function(s) {
  p <- hard[[s]]
  g <- suppressWarnings(rma.glmm(measure = "PLO", xi = p$xi, ni = p$ni, method = "ML", control = tight))
  data.frame(set = s, xi = paste(p$xi, collapse = " "), ni = paste(p$ni, collapse = " "), k = g$k,
             estimate = f(as.numeric(g$beta)), se = f(g$se), ci_lower = f(g$ci.lb), ci_upper = f(g$ci.ub),
             tau2 = f(g$tau2))
})
wcsv(do.call(rbind, rows), "glmm_hard.csv")
glmm_sub <- function(sets) {
  fits <- lapply(sets, function(s) suppressWarnings(rma.glmm(measure = "PLO", xi = props[[s]]$xi, ni = props[[s]]$ni,
                                                             method = "ML", control = tight)))
  est <- sapply(fits, function(r) as.numeric(r$beta)); se <- sapply(fits, function(r) r$se)
  fe <- rma(yi = est, sei = se, method = "FE")
  data.frame(name = "GLMM_z", sets = paste0(sets, ":GLMM", collapse = " "),
             estimates = paste(f(est), collapse = " "), ses = paste(f(se), collapse = " "),
             q = f(fe$QE), df = length(sets) - 1, q_p_value = f(fe$QEp))
}
wcsv(rbind(sub_rows, glmm_sub(c("k3_zero", "k5_full", "k8_het"))), "subgroup.csv")

# --------------------------------------------------------------------------- escalc 2x2
rows <- list()
for (s in names(two_arm)) for (m in c("RR", "OR", "RD"))
  for (opt in c("default", "drop00", "to_all", "to_if0all")) {
    d <- two_arm[[s]]
    args <- list(measure = m, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i)
    if (opt == "drop00") args$drop00 <- TRUE
    if (opt == "to_all") args$to <- "all"
    if (opt == "to_if0all") args$to <- "if0all"
    e <- do.call(escalc, args)
    sm <- summary(e, transf = if (m == "RD") identity else exp)
    rows[[length(rows) + 1]] <- data.frame(set = s, measure = m, option = opt, study = seq_len(nrow(d)),
      yi = f(e$yi), vi = f(e$vi), estimate = f(sm$yi), ci_lower = f(sm$ci.lb), ci_upper = f(sm$ci.ub))
  }
wcsv(do.call(rbind, rows), "escalc.csv")

# --------------------------------------------------------------------------- versions
si <- sessionInfo()
vers <- c(paste("made by tests/r/pooling_reference.R on", format(Sys.Date())),
          si$R.version$version.string, paste("platform:", si$platform),
          sapply(c("metafor", "lme4", "nloptr", "Matrix", "metadat"), function(p)
            paste0(p, " ", tryCatch(as.character(packageVersion(p)), error = function(e) "not installed"))),
          paste("meta", if (requireNamespace("meta", quietly = TRUE)) as.character(packageVersion("meta"))
                else "not installed (t prediction interval from metafor predict(pi.type = \"t\"))"))
writeLines(vers, file.path(out_dir, "VERSIONS.txt"))
cat("wrote", length(list.files(out_dir)), "files to", out_dir, "\n")
