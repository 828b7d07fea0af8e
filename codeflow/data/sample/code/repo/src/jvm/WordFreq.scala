package sample

object WordFreq {
  def count(lines: Seq[String]): Map[String, Int] =
    lines
      .flatMap(_.split("\\s+"))
      .filter(_.nonEmpty)
      .groupBy(identity)
      .map { case (w, ws) => w -> ws.size }

  def main(args: Array[String]): Unit = {
    val freq = count(Seq("a b a", "c b a"))
    freq.toSeq.sortBy(-_._2).foreach { case (w, n) => println(s"$w $n") }
  }
}
