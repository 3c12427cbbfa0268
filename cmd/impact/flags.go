package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

var errHelp = errors.New("")

// newFlagSet makes a flag set whose --help prints the synopsis, what the
// command does, its flags and examples.
func newFlagSet(name string, e *env, synopsis, about, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nExamples:\n%s", examples)
	}
	return fs
}

// parse parses args; --help prints usage to stdout and returns errHelp.
// A parse error has already been printed by the flag package.
func parse(fs *flag.FlagSet, e *env, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return errHelp
		}
	}
	// After a parse error the flag package shows fs.Usage: one line
	// pointing at --help, not the whole text, so the error stays in view.
	long := fs.Usage
	fs.Usage = func() { fmt.Fprintf(fs.Output(), "Run 'impact %s --help' for the flags and examples.\n", fs.Name()) }
	defer func() { fs.Usage = long }()
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: errors.New("")}
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (flags start with --; run with --help)", fs.Arg(0))
	}
	return nil
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
