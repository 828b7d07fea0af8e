"""
    newton(f, df, x0; tol=1e-10)

Find a root of `f` with Newton's method.
"""
function newton(f, df, x0; tol = 1e-10, maxiter = 100)
    x = x0
    for i in 1:maxiter
        step = f(x) / df(x)
        x -= step
        if abs(step) < tol
            return x
        end
    end
    error("did not converge")
end

println(newton(x -> x^2 - 2, x -> 2x, 1.0))
