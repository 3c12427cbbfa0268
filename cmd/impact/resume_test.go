package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/demo"
	"github.com/impact-ops/impact/internal/results"
	"github.com/impact-ops/impact/internal/syncbuf"
)

// resumeMailboxes is the size of the incident the kill and interrupt tests
// scan: at --rate 200 a clean scan takes about 10 s, long enough to stop it
// at chosen points.
const resumeMailboxes = 2000

// procLimit bounds every impact process these tests start.
const procLimit = 90 * time.Second

// resumeFixture is an impact binary and a demo incident served in-process.
type resumeFixture struct {
	bin, dir, inventory string
	inc                 *demo.Incident
	addr                string

	clean     chan struct{} // closed when the uninterrupted scan is done
	cleanSet  *results.Set
	cleanErr  error
	cleanXLSX string
}

func newResumeFixture(t *testing.T) *resumeFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and scans 2,000 mailboxes several times")
	}
	dir := t.TempDir()
	f := &resumeFixture{bin: filepath.Join(dir, "impact"), dir: dir, inventory: filepath.Join(dir, "accounts.csv"), clean: make(chan struct{})}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	build := exec.Command(gobin, "build", "-o", f.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f.inc = demo.NewIncident(resumeMailboxes, lastSunday8(time.Now()), 7)
	if err := f.inc.WriteInventory(f.inventory); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := demo.Start(ctx, f.inc)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); cancel() })
	f.addr = srv.Addr
	return f
}

func (f *resumeFixture) args(resultsPath string) []string {
	return []string{"scan", "--inventory", f.inventory, "--server", f.addr, "--tls", "none",
		"--cutoff", f.inc.Cutoff.Format(time.RFC3339), "--auth", "master", "--master-user", f.inc.MasterUser,
		"--results", resultsPath, "--workers", "4", "--rate", "200"}
}

// proc is one impact process.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	done   chan struct{}
	err    error // from Wait, valid after done
}

// launch runs impact with args. The process is killed after procLimit,
// and with the test binary (Pdeathsig).
func (f *resumeFixture) launch(args []string) (*proc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), procLimit)
	cmd := exec.CommandContext(ctx, f.bin, args...)
	cmd.Env = append(os.Environ(), "IMPACT_MASTER_PASSWORD="+f.inc.MasterPassword)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{cmd: cmd, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	return p, nil
}

// start is launch for the test's goroutine: the process is also killed
// when the test ends.
func (f *resumeFixture) start(t *testing.T, args []string) *proc {
	t.Helper()
	p, err := f.launch(args)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// stop kills the process if it still runs and waits for it.
func (p *proc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// wait waits for the process to exit and returns its exit code (-1 when a
// signal ended it).
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(procLimit + 5*time.Second):
		t.Fatalf("impact still running after %v\n%s", procLimit, p.stderr.String())
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		t.Fatalf("impact: %v", p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v (exited? %s)", sig, err, p.stderr.String())
	}
}

// kill sends SIGKILL and checks the signal, not a clean exit, ended it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	if code := p.wait(t); code != -1 {
		t.Fatalf("impact exited %d before SIGKILL reached it\n%s", code, p.stderr.String())
	}
}

// waitFor polls until cond holds for the results file or the process
// exits; it reports whether cond held.
func waitFor(t *testing.T, p *proc, path string, cond func(size int64, final int) bool) bool {
	t.Helper()
	for {
		select {
		case <-p.done:
			return false
		default:
		}
		var size int64
		final := 0
		if st, err := os.Stat(path); err == nil {
			size = st.Size()
			if size > 0 {
				if set, err := results.Load(path); err == nil {
					for _, m := range set.Mailboxes {
						if m.Final() {
							final++
						}
					}
				}
			}
		}
		if cond(size, final) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finalCount is the number of mailboxes with a final verdict in the
// results at path, which must load.
func finalCount(t *testing.T, path string) int {
	t.Helper()
	set, err := results.Load(path)
	if err != nil {
		t.Fatalf("results: %v", err)
	}
	n := 0
	for _, m := range set.Mailboxes {
		if m.Final() {
			n++
		}
	}
	return n
}

// waitForOutput waits until the process has written want or exited.
func waitForOutput(p *proc, want string) bool {
	for {
		if strings.Contains(p.stderr.String(), want) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.stderr.String(), want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// finalAtLeast is a waitFor condition: n mailboxes have a final verdict.
func finalAtLeast(n int) func(int64, int) bool {
	return func(_ int64, final int) bool { return final >= n }
}

// startClean starts the uninterrupted scan the others are compared with;
// compare waits for it.
func (f *resumeFixture) startClean(t *testing.T) {
	t.Helper()
	path := filepath.Join(f.dir, "clean.jsonl")
	f.cleanXLSX = filepath.Join(f.dir, "clean.xlsx")
	p := f.start(t, f.args(path))
	go func() {
		defer close(f.clean)
		<-p.done
		if code := p.cmd.ProcessState.ExitCode(); code != exitOK {
			f.cleanErr = fmt.Errorf("uninterrupted scan: exit %d (%v)\n%s", code, p.err, p.stderr.String())
			return
		}
		f.cleanSet, f.cleanErr = results.Load(path)
	}()
}

// compare checks that the results at path give every mailbox the verdict
// the uninterrupted scan gave it, with the same counts, and the truth the
// incident was seeded with; and that the workbooks agree. With strict
// false only the impacts are compared, and other differences are logged.
func (f *resumeFixture) compare(t *testing.T, path, xlsx string, strict bool) {
	t.Helper()
	<-f.clean
	if f.cleanErr != nil {
		t.Fatal(f.cleanErr)
	}
	got, err := results.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Warnings) > 0 {
		t.Errorf("warnings loading the resumed results: %q", got.Warnings)
	}
	type verdict struct {
		Impact        results.Impact
		Evidence      string
		Login, Code   string
		Before, After any
		Type          string
		Multi         bool
		Folders       []string
		Error         string
	}
	v := func(m *results.Mailbox) verdict {
		if m == nil {
			return verdict{}
		}
		var folders []string
		for _, fo := range m.Folders {
			folders = append(folders, fmt.Sprintf("%s:%v/%v/%v", fo.Name, deref(fo.Messages), deref(fo.BeforeCutoff), deref(fo.AfterCutoff)))
		}
		return verdict{m.Impact, m.Evidence, m.Login.Outcome, m.Login.Code, deref(m.BeforeCutoff), deref(m.AfterCutoff), m.CustomerType, m.MultiMailbox, folders, m.Error}
	}
	diffs := 0
	for i := range f.inc.Mailboxes {
		mb := &f.inc.Mailboxes[i]
		name := mb.Entry.Mailbox()
		g, c := v(got.Mailboxes[name]), v(f.cleanSet.Mailboxes[name])
		if !strict && g.Impact == c.Impact && !reflect.DeepEqual(g, c) {
			t.Logf("%s: same impact, other details (known bug):\nresumed       %+v\nuninterrupted %+v", name, g, c)
		} else if !reflect.DeepEqual(g, c) {
			if diffs++; diffs <= 5 {
				t.Errorf("%s: resumed %+v\nuninterrupted %+v", name, g, c)
			}
		}
		if g.Impact != mb.Expected {
			if diffs++; diffs <= 5 {
				t.Errorf("%s: impact %s, the incident was seeded with %s", name, g.Impact, mb.Expected)
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d differences in all", diffs)
	}
	if n := len(got.Mailboxes); n != resumeMailboxes {
		t.Errorf("%d mailboxes in the resumed results, want %d", n, resumeMailboxes)
	}
	if strict {
		compareWorkbooks(t, xlsx, f.cleanXLSX)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "unknown"
	}
	return *p
}

// probeTimeColumns say when and how fast a mailbox was probed: they differ
// between any two scans and are left out of the comparison.
var probeTimeColumns = map[string]bool{"Probed at": true, "Duration ms": true}

// withoutProbeTimes drops the probeTimeColumns, found by the header row.
func withoutProbeTimes(rows [][]string) [][]string {
	if len(rows) == 0 {
		return rows
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		for j, c := range r {
			if j < len(rows[0]) && probeTimeColumns[rows[0][j]] {
				continue
			}
			out[i] = append(out[i], c)
		}
	}
	return out
}

// compareWorkbooks checks that the Priority and Mailboxes sheets, which
// hold the verdicts and the ranking, are identical cell for cell but for
// the probeTimeColumns.
func compareWorkbooks(t *testing.T, a, b string) {
	t.Helper()
	fa, err := excelize.OpenFile(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := excelize.OpenFile(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	for _, sheet := range []string{"Priority", "Mailboxes"} {
		ra, err := fa.GetRows(sheet)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		rb, err := fb.GetRows(sheet)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		ra, rb = withoutProbeTimes(ra), withoutProbeTimes(rb)
		if len(ra) < resumeMailboxes/4 {
			t.Errorf("sheet %s of %s has only %d rows", sheet, a, len(ra))
		}
		if !reflect.DeepEqual(ra, rb) {
			for i := range max(len(ra), len(rb)) {
				if i >= len(ra) || i >= len(rb) || !reflect.DeepEqual(ra[i], rb[i]) {
					t.Errorf("sheet %s differs first at row %d (of %d and %d):\nresumed       %q\nuninterrupted %q", sheet, i+1, len(ra), len(rb), row(ra, i), row(rb, i))
					break
				}
			}
		}
	}
}

func row(rows [][]string, i int) []string {
	if i < len(rows) {
		return rows[i]
	}
	return nil
}

// TestKillResume: a scan killed with SIGKILL at several points (right after
// it started, past a quarter, past half) and resumed each time, once after
// its results file was given a torn last line, ends with the verdicts and
// workbook of an uninterrupted scan; so does one interrupted with SIGINT,
// and one aborted by a second SIGINT.
func TestKillResume(t *testing.T) {
	f := newResumeFixture(t)
	f.startClean(t)

	t.Run("SIGKILL", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(f.dir, "killed.jsonl")
		xlsx := strings.TrimSuffix(path, ".jsonl") + ".xlsx"
		args := f.args(path)

		// resume starts the same command again and checks it knows what
		// the killed runs left: every verdict recorded before the kill.
		resume := func() *proc {
			t.Helper()
			final := 0
			if _, err := os.Stat(path); err == nil {
				final = finalCount(t, path)
			}
			p := f.start(t, args)
			if final > 0 {
				want := fmt.Sprintf("Resuming %s: %d of %d mailboxes already have a verdict, %d to probe.", path, final, resumeMailboxes, resumeMailboxes-final)
				if !waitForOutput(p, want) {
					t.Fatalf("resume: output lacks %q:\n%s", want, p.stderr.String())
				}
			}
			return p
		}

		// 1. Right after start: as soon as the scan header is written.
		p := resume()
		if !waitFor(t, p, path, func(size int64, _ int) bool { return size > 0 }) {
			t.Fatalf("exited before writing anything\n%s", p.stderr.String())
		}
		p.kill(t)
		t.Logf("killed right after start: %d verdicts", finalCount(t, path))

		// 2. Past a quarter.
		p = resume()
		if !waitFor(t, p, path, finalAtLeast(resumeMailboxes/4)) {
			t.Fatalf("exited before a quarter\n%s", p.stderr.String())
		}
		p.kill(t)
		t.Logf("killed past a quarter: %d verdicts", finalCount(t, path))

		// 3. A power cut mid-write: half a record at the end.
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		half := lines[len(lines)-1][:len(lines[len(lines)-1])/2]
		fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.Write(half); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		set, err := results.Load(path)
		if err != nil || len(set.Warnings) != 1 || !strings.Contains(set.Warnings[0], "torn last line") {
			t.Fatalf("torn results: %v, warnings %q", err, set.Warnings)
		}

		// 4. Resumed with the torn line; killed past half.
		p = resume()
		if !waitFor(t, p, path, finalAtLeast(resumeMailboxes/2)) {
			t.Fatalf("exited before half\n%s", p.stderr.String())
		}
		p.kill(t)
		if want := fmt.Sprintf("ended in a torn line (%d bytes, a crash mid-write); cut off", len(half)); !strings.Contains(p.stderr.String(), want) {
			t.Errorf("resume after a torn line: output lacks %q:\n%s", want, p.stderr.String())
		}
		t.Logf("killed past half: %d verdicts", finalCount(t, path))

		// 5. Resume until done.
		for run := 1; ; run++ {
			p = resume()
			code := p.wait(t)
			if code == exitOK {
				break
			}
			if run == 3 {
				t.Fatalf("resume %d: exit %d\n%s", run, code, p.stderr.String())
			}
		}
		t.Logf("final resume:\n%s", lastLines(p.stderr.String(), 8))
		f.compare(t, path, xlsx, true)
	})

	// Both interrupt cases run at once: go test runs only GOMAXPROCS
	// parallel tests, and the two resumes take most of the time.
	t.Run("SIGINT", func(t *testing.T) {
		t.Parallel()
		type run struct {
			name        string
			twice       bool // a second SIGINT aborts at once
			path, xlsx  string
			p           *proc
			final, seen int // mailboxes with a final verdict, and with any record, after the interrupt
		}
		runs := []*run{{name: "SIGINT"}, {name: "SIGINT twice", twice: true}}
		for i, r := range runs {
			r.path = filepath.Join(f.dir, fmt.Sprintf("interrupted%d.jsonl", i))
			r.xlsx = strings.TrimSuffix(r.path, ".jsonl") + ".xlsx"
			r.p = f.start(t, f.args(r.path))
		}
		for _, r := range runs {
			if !waitFor(t, r.p, r.path, finalAtLeast(resumeMailboxes/4)) {
				t.Fatalf("%s: exited before a quarter\n%s", r.name, r.p.stderr.String())
			}
			sent := time.Now()
			r.p.signal(t, syscall.SIGINT)
			if r.twice {
				time.Sleep(5 * time.Millisecond)
				r.p.signal(t, syscall.SIGINT)
			}
			code := r.p.wait(t)
			took := time.Since(sent)
			out := r.p.stderr.String()
			if code != exitInterrupt || took > 5*time.Second {
				t.Fatalf("%s: exit %d after %v, want %d within the probes' timeouts\n%s", r.name, code, took, exitInterrupt, out)
			}
			set, err := results.Load(r.path)
			if err != nil || len(set.Warnings) > 0 {
				t.Fatalf("%s: results: %v %q", r.name, err, set.Warnings)
			}
			probeErrors := 0
			for _, m := range set.Mailboxes {
				if m.Final() {
					r.final++
				} else {
					probeErrors++
					t.Logf("%s: %s: %s", r.name, m.Mailbox, m.Error)
				}
			}
			r.seen = len(set.Mailboxes)
			t.Logf("%s: exit %d after %v; %d mailboxes recorded, %d probe_error; end %+v", r.name, code, took.Round(time.Millisecond), r.seen, probeErrors, set.Ends)
			if len(set.Ends) != 1 || set.Ends[0].Complete || set.Ends[0].Probed != r.seen {
				t.Errorf("%s: end record %+v, want one, incomplete, %d probed", r.name, set.Ends, r.seen)
			}
			if !r.twice {
				if set.Ends[0].Reason != "interrupted" || probeErrors > 0 {
					t.Errorf("%s: end reason %q, %d probe errors; want interrupted, none (in-flight probes finish)", r.name, set.Ends[0].Reason, probeErrors)
				}
				if want := fmt.Sprintf("INCOMPLETE: %d mailboxes not probed yet", resumeMailboxes-r.seen); !strings.Contains(out, want) {
					t.Errorf("%s: output lacks %q:\n%s", r.name, want, out)
				}
				if want := "with a mailbox probed so far"; !strings.Contains(out, want) {
					t.Errorf("%s: the account count of an incomplete scan does not say it covers only probed mailboxes:\n%s", r.name, out)
				}
			}
			if r.seen >= resumeMailboxes {
				t.Errorf("%s: every mailbox probed: the interrupt came too late to test anything", r.name)
			}
			if st, err := os.Stat(r.xlsx); err != nil || st.Size() == 0 {
				t.Errorf("%s: workbook: %v", r.name, err)
			}
		}
		for _, r := range runs {
			r.p = f.start(t, f.args(r.path))
		}
		for _, r := range runs {
			if code := r.p.wait(t); code != exitOK {
				t.Fatalf("%s: resume: exit %d\n%s", r.name, code, r.p.stderr.String())
			}
			if want := fmt.Sprintf("%d of %d mailboxes already have a verdict", r.final, resumeMailboxes); !strings.Contains(r.p.stderr.String(), want) {
				t.Errorf("%s: resume output lacks %q:\n%s", r.name, want, r.p.stderr.String())
			}
			// Known bug: an aborted probe of a mailbox with old mail in an
			// earlier folder is recorded as a final "ok" with the rest
			// uncounted (see TestCancelMidProbe in internal/scan), so after
			// an abort only the impacts are sure to match.
			f.compare(t, r.path, r.xlsx, true)
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
