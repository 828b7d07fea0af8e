package sample

sealed class Shape {
    abstract fun area(): Double
}

data class Circle(val r: Double) : Shape() {
    override fun area(): Double = Math.PI * r * r
}

data class Rect(val w: Double, val h: Double) : Shape() {
    override fun area(): Double = w * h
}

fun totalArea(shapes: List<Shape>): Double {
    var total = 0.0
    for (s in shapes) {
        total += s.area()
    }
    return total
}

fun main() {
    val shapes = listOf(Circle(1.0), Rect(2.0, 3.0))
    println("total = ${totalArea(shapes)}")
}
