// Command pbxbench is `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	bin := flag.String("pbxbridge", "bin/pbxbridge", "the pbxbridge binary")
	flag.Parse()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "[pbxbench] "+f+"\n", a...) }
	if os.Getenv("P1") != "" {
		a, err := findAsterisk(context.Background(), "integration/asterisk")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%+v\n", *a)
		r, err := runOverhead(context.Background(), *bin, a, []int{2}, logf)
		fmt.Printf("%+v %v\n", r, err)
		return
	}
	r, err := runEngine(context.Background(), *bin, "local", []int{100, 500, 1000}, 3*time.Second, 500, logf)
	fmt.Println(r, err)
}
