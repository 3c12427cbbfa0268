// Command impact assesses a mail storage incident: it probes every mailbox
// of an inventory over IMAP, read-only, and writes prioritised reports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes. They are documented in the README and in usage.
const (
	exitOK         = 0   // every mailbox has a verdict
	exitFailure    = 1   // the run failed (I/O, report)
	exitUsage      = 2   // bad flags, inventory, settings or target: nothing was scanned
	exitIncomplete = 3   // the scan stopped early or left probe_error mailboxes: rerun to resume
	exitInterrupt  = 130 // interrupted by SIGINT/SIGTERM; results so far are kept
)

const usage = `impact: find the mailboxes a mail storage incident hit, and who to call first.

Usage:
    impact demo    [--out DIR] [--mailboxes N]
    impact scan    --inventory FILE --server HOST:PORT --cutoff TIME --results FILE [flags]
    impact report  --results FILE [--results FILE ...] --report FILE [flags]
    impact version

Run "impact COMMAND --help" for a command's flags and examples.

Example:
    export IMPACT_MASTER_PASSWORD=...        # or --master-password-file, or a prompt
    impact scan --inventory accounts.csv --server imap.example.net:993 --tls implicit \
        --cutoff 2006-07-09T08:00:00+01:00 --auth master --master-user ops \
        --results scan.jsonl --report impact.xlsx

Exit codes: 0 complete; 1 failure; 2 usage or setup error (nothing scanned);
3 incomplete (stopped early or probe errors left: rerun to resume); 130 interrupted.
`

// env is what a command sees of the process: tests run main on scripts
// with their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// drain is closed on the first SIGINT/SIGTERM: start no new probes.
	drain <-chan struct{}
}

// exitError carries an exit code with the message printed for it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func main() {
	os.Exit(run())
}

// run wires signals: the first SIGINT/SIGTERM drains (no new probes, the
// report is written marked incomplete), a second one aborts at once.
func run() int {
	drain := make(chan struct{})
	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\nimpact: interrupt: finishing the probes in flight, then writing the report (interrupt again to abort now)")
		close(drain)
		<-sigs
		fmt.Fprintln(os.Stderr, "impact: aborting; the results file stays valid, rerun to resume")
		abort()
	}()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, drain: drain}
	return runMain(ctx, e, os.Args[1:])
}

func runMain(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "scan":
		err = cmdScan(ctx, e, args[1:])
	case "demo":
		err = cmdDemo(ctx, e, args[1:])
	case "report":
		err = cmdReport(ctx, e, args[1:])
	case "version", "--version", "-version":
		err = cmdVersion(e, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "impact: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if err.Error() != "" {
		fmt.Fprintf(e.stderr, "impact %s: %v\n", args[0], err)
	}
	return code
}
