// Command pbxbridge runs CarrierX FlexML and Plivo XML call-control applications on Asterisk
// and FreeSWITCH. This file only dispatches subcommands; each lives in its own file.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: pbxbridge <command> [arguments]

commands:
  serve      run pbxbridge beside Asterisk (see 'pbxbridge serve -h')
  outbox     list and replay undelivered callbacks (see 'pbxbridge outbox -h')
  validate   check FlexML or Plivo XML documents and show what pbxbridge understood
  call       place a real SIP call into an application and trace it (see 'pbxbridge call -h')
  version    print the version

Run 'pbxbridge <command> -h' for a command's flags.
`

// run is main without the process: it returns the exit status, so tests can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return profiled(stderr, func() int { return runServe(args[1:], stdout, stderr) })
	case "outbox":
		return runOutbox(args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdin, stdout, stderr)
	case "call":
		return runCall(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "pbxbridge %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "pbxbridge: unknown command %q\n\n%s", args[0], usage)
	return 2
}
