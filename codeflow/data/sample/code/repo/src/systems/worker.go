package main

import (
	"fmt"
	"sync"
)

type Result struct {
	ID    int
	Value int
}

func square(id int, out chan<- Result, wg *sync.WaitGroup) {
	defer wg.Done()
	out <- Result{ID: id, Value: id * id}
}

func main() {
	out := make(chan Result, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go square(i, out, &wg)
	}
	wg.Wait()
	close(out)
	total := 0
	for r := range out {
		total += r.Value
	}
	fmt.Println("sum of squares:", total)
}
