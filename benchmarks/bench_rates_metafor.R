# The R metafor side of benchmarks/bench_rates.py: the same job on the same synthetic studies.
#
#   Rscript benchmarks/bench_rates_metafor.R STUDIES.csv OUT_DIR
#
# STUDIES.csv has columns study, subgroup, events, total (written by bench_rates.py from its
# synthetic data). The job: escalc (logit proportions) + rma REML per subgroup and overall,
# then one forest() of all studies with a diamond per subgroup and overall (the layout of
# metafor's subgroup example), drawn to PNG at 150 dpi and to SVG. Prints one line per
# step, "name<TAB>seconds" (elapsed), which bench_rates.py reads.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: Rscript bench_rates_metafor.R STUDIES.csv OUT_DIR")
clock <- function() proc.time()[["elapsed"]]
say <- function(name, t0) cat(sprintf("%s\t%.4f\n", name, clock() - t0))

t <- clock()
suppressMessages(library(metafor))
say("library(metafor)", t)

t <- clock()
d <- read.csv(args[1], stringsAsFactors = FALSE)
say("read.csv", t)

t <- clock()
d <- d[order(d$subgroup), ]
dat <- escalc(measure = "PLO", xi = events, ni = total, data = d, slab = study)
groups <- sort(unique(dat$subgroup))
fits <- lapply(groups, function(g) rma(yi, vi, data = dat, subset = subgroup == g, method = "REML"))
overall <- rma(yi, vi, data = dat, method = "REML")
pred <- lapply(c(fits, list(overall)), predict, transf = transf.ilogit)
say("escalc + rma REML per subgroup and overall", t)

# rows from the top: per subgroup a header, its studies, its diamond and a blank row
k <- as.vector(table(dat$subgroup)[groups])
n_rows <- sum(k) + 3 * length(groups)
top <- n_rows + 1
rows <- integer(0); poly_rows <- integer(0); head_rows <- integer(0)
y <- top
for (i in seq_along(groups)) {
  head_rows <- c(head_rows, y); y <- y - 1
  rows <- c(rows, seq(y, by = -1, length.out = k[i])); y <- y - k[i]
  poly_rows <- c(poly_rows, y); y <- y - 2
}

draw <- function() {
  par(yaxs = "i")
  forest(overall, rows = rows, ylim = c(-2.5, top + 3), xlim = c(-1.4, 1.75), alim = c(0, 1),
         transf = transf.ilogit, at = c(0, 0.25, 0.5, 0.75, 1), refline = NA,
         ilab = paste0(dat$events, "/", dat$total), ilab.xpos = -0.45, ilab.pos = 2,
         header = c("Study", "Proportion [95% CI]"), mlab = "All studies (RE model, REML)",
         cex = 0.75, efac = c(0, 100 / n_rows), xlab = "Proportion of patients")
  text(-1.4, head_rows, paste("disease:", groups), pos = 4, font = 2, cex = 0.75)
  for (i in seq_along(groups)) {
    addpoly(fits[[i]], row = poly_rows[i], transf = transf.ilogit, cex = 0.75,
            mlab = sprintf("Pooled: %s (I2 = %.0f%%)", groups[i], fits[[i]]$I2))
  }
}
height <- (n_rows + 6) * 0.2 # inches; at 150 dpi below cairo's 32,767-pixel limit up to ~1,080 rows

t <- clock()
png(file.path(args[2], "forest.png"), width = 11, height = height, units = "in", res = 150)
draw()
invisible(dev.off())
say("forest to PNG (150 dpi)", t)

t <- clock()
svg(file.path(args[2], "forest.svg"), width = 11, height = height)
draw()
invisible(dev.off())
say("forest to SVG", t)
