// Command orchestrate turns a goal into a working, tested project with
// distributed specialist agents. See the README for the two commands that
// get a new machine going.
package main

import (
	"os"

	"github.com/orchestrate-dev/orchestrate/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:], cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
