const std = @import("std");

fn fib(n: u32) u64 {
    var a: u64 = 0;
    var b: u64 = 1;
    var i: u32 = 0;
    while (i < n) : (i += 1) {
        const t = a + b;
        a = b;
        b = t;
    }
    return a;
}

pub fn main() void {
    std.debug.print("fib(50) = {d}\n", .{fib(50)});
}
