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
	r, err := runEngine(context.Background(), *bin, "local", []int{100, 500, 1000}, 3*time.Second, 500, logf)
	fmt.Println(r, err)
}
