# Summaries of a numeric vector.
describe <- function(x, na.rm = TRUE) {
  if (!is.numeric(x)) {
    stop("x must be numeric")
  }
  list(
    n = length(x),
    mean = mean(x, na.rm = na.rm),
    sd = sd(x, na.rm = na.rm),
    quantiles = quantile(x, c(0.25, 0.5, 0.75), na.rm = na.rm)
  )
}

for (i in 1:3) {
  print(describe(rnorm(100, mean = i)))
}
