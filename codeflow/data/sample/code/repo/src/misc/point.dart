import 'dart:math';

class Point {
  final double x;
  final double y;

  const Point(this.x, this.y);

  double distanceTo(Point other) {
    final dx = x - other.x;
    final dy = y - other.y;
    return sqrt(dx * dx + dy * dy);
  }
}

void main() {
  final a = Point(0, 0);
  final b = Point(3, 4);
  print('distance: ${a.distanceTo(b)}');
}
