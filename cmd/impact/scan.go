package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
	"github.com/impact-ops/impact/internal/scan"
)

const scanAbout = `Probe every mailbox of the inventory over IMAP, strictly read-only (EXAMINE,
STATUS, LIST, SEARCH, FETCH of INTERNALDATE; never SELECT, STORE or a body
fetch), decide each mailbox's impact, and write the results (JSON Lines, one
record per mailbox, appended as probes finish) and the prioritised workbook.

The target server (host, address, greeting, certificate) is printed before the
first probe and recorded in the results and the workbook.

The master password is read from $IMPACT_MASTER_PASSWORD, --master-password-file
or a terminal prompt, never from the command line.

Rerunning with the same --results resumes: mailboxes with a final verdict are
not probed again, probe_error ones are. --fresh starts over.`

const scanExamples = `    # Dovecot with a master user (LOGIN "mailbox*ops"):
    export IMPACT_MASTER_PASSWORD=...
    impact scan --inventory accounts.csv --server imap.example.net:993 --tls implicit \
        --cutoff 2006-07-09T08:00:00+01:00 --auth master --master-user ops \
        --results scan.jsonl --report impact.xlsx

    # Check the inventory and settings without connecting:
    impact scan --inventory accounts.xlsx --sheet Export --server imap.example.net:993 \
        --cutoff 2006-07-09T08:00:00+01:00 --auth authzid --master-user ops \
        --results scan.jsonl --dry-run
`

// scanOptions are the scan flags after parsing.
type scanOptions struct {
	inventory, sheet         string
	server, tlsMode, caFile  string
	insecureSkipVerify       bool
	allowPlaintext           bool
	cutoff                   string
	auth, masterUser, sep    string
	masterPasswordFile       string
	results, report, rules   string
	workers                  int
	rate                     float64
	loginTimeout, cmdTimeout time.Duration
	connectTimeout           time.Duration
	dryRun, fresh            bool
	skipInvalid              bool
	traceFile                string
	title                    string
	maxConnections           int
	shard                    string
	logFormat, logLevel      string
	confirmFailures          bool
	reportFlags
	evidenceFlags
}

func scanFlags(fs *flag.FlagSet, o *scanOptions) {
	fs.StringVar(&o.inventory, "inventory", "", "inventory `FILE` exported from billing (.csv or .xlsx)")
	fs.StringVar(&o.sheet, "sheet", "", "xlsx `SHEET` holding the inventory (default: the first)")
	fs.StringVar(&o.server, "server", "", "IMAP server `HOST:PORT`")
	fs.StringVar(&o.tlsMode, "tls", "implicit", "`MODE`: implicit (port 993), starttls (143) or none (plaintext: loopback, or with --allow-plaintext)")
	fs.StringVar(&o.caFile, "ca-file", "", "PEM `FILE` of CA certificates to verify the server with (default: system roots)")
	fs.BoolVar(&o.insecureSkipVerify, "insecure-skip-verify", false, "do not verify the server certificate (its fingerprint is still printed and recorded)")
	fs.BoolVar(&o.allowPlaintext, "allow-plaintext", false, "allow --tls none to a non-loopback server (passwords cross the network in clear)")
	fs.StringVar(&o.cutoff, "cutoff", "", "incident `TIME`, RFC 3339 with zone, e.g. 2006-07-09T08:00:00+01:00: mail with an INTERNALDATE before it is \"old\"")
	fs.StringVar(&o.auth, "auth", "master", "how to log in: master (LOGIN mailbox<sep>master), authzid (AUTHENTICATE PLAIN with authorization identity) or password (inventory password column)")
	fs.StringVar(&o.masterUser, "master-user", "", "master `USER` for --auth master or authzid")
	fs.StringVar(&o.sep, "master-separator", "*", "`SEP` between mailbox and master user (Dovecot auth_master_user_separator)")
	fs.StringVar(&o.masterPasswordFile, "master-password-file", "", "read the master password from `FILE` (first line) instead of $IMPACT_MASTER_PASSWORD or a prompt")
	fs.StringVar(&o.results, "results", "", "results `FILE` (JSON Lines); an existing file is resumed")
	fs.StringVar(&o.report, "report", "", "workbook `FILE` to write (.xlsx; default: the results file name with .xlsx)")
	fs.StringVar(&o.rules, "rules", "", "settings `FILE` (TOML): classification rules and playbook")
	fs.IntVar(&o.workers, "workers", scan.DefaultWorkers, "mailboxes probed at once; lowered while the server struggles")
	fs.Float64Var(&o.rate, "rate", scan.DefaultLoginRate, "new connections per second, at most")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 10*time.Second, "timeout for TCP connect and TLS handshake")
	fs.DurationVar(&o.loginTimeout, "login-timeout", 45*time.Second, "timeout for a login (keep above 20s: Dovecot delays logins after failures)")
	fs.DurationVar(&o.cmdTimeout, "timeout", 30*time.Second, "timeout for every other IMAP command")
	fs.BoolVar(&o.dryRun, "dry-run", false, "check the inventory and settings, print what would be scanned, connect to nothing")
	fs.BoolVar(&o.fresh, "fresh", false, "discard an existing results file and start over")
	fs.BoolVar(&o.skipInvalid, "skip-invalid", false, "scan the valid rows even if some inventory rows are rejected (they are listed)")
	fs.StringVar(&o.traceFile, "trace-imap", "", "write the IMAP conversation to `FILE`, credentials redacted (for support cases)")
	fs.StringVar(&o.title, "title", "", "incident title for the workbook (default: \"Mail storage incident\" and the cutoff)")
	fs.IntVar(&o.maxConnections, "max-connections", 0, fmt.Sprintf("most connections open at once, counting logins the server holds after refused logins (Dovecot's authentication penalty); 0: %d, or --workers if higher", scan.DefaultMaxConnections))
	fs.StringVar(&o.shard, "shard", "", "scan only shard `K/N` (K from 0 to N-1) of the inventory, by a stable hash of the mailbox, e.g. 0/4 ($JOB_COMPLETION_INDEX/4)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT` on stderr: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `LEVEL`: debug (one event per mailbox), info, warn or error")
	o.reportFlags.register(fs)
	o.evidenceFlags.register(fs)
	fs.BoolVar(&o.confirmFailures, "confirm-failures", false, "probe every mailbox whose login was refused once more at the end (some servers refuse logins intermittently)")
}

// check catches flag conflicts before any file or network I/O.
func (o *scanOptions) check() (cutoff time.Time, err error) {
	if o.inventory == "" {
		return cutoff, usageErr("--inventory is required (the CSV or XLSX account export)")
	}
	if o.server == "" {
		return cutoff, usageErr("--server is required, e.g. --server imap.example.net:993")
	}
	host, port, err := net.SplitHostPort(o.server)
	if err != nil || host == "" || port == "" {
		return cutoff, usageErr("--server %q: want HOST:PORT, e.g. imap.example.net:993", o.server)
	}
	if o.cutoff == "" {
		return cutoff, usageErr("--cutoff is required: the incident time with its zone, e.g. --cutoff 2006-07-09T08:00:00+01:00")
	}
	// RFC 3339 allows a lowercase t and z; Go's parser wants them upper.
	cutoff, err = time.Parse(time.RFC3339, strings.ToUpper(o.cutoff))
	if err != nil {
		return cutoff, usageErr("--cutoff %q: want RFC 3339 with a zone, e.g. 2006-07-09T08:00:00+01:00 or 2006-07-09T07:00:00Z", o.cutoff)
	}
	if cutoff.After(time.Now().Add(time.Hour)) {
		return cutoff, usageErr("--cutoff %s is in the future: check the date", o.cutoff)
	}
	switch scan.TLSMode(o.tlsMode) {
	case scan.TLSImplicit, scan.TLSStartTLS:
	case scan.TLSNone:
		if o.caFile != "" || o.insecureSkipVerify {
			return cutoff, usageErr("--ca-file and --insecure-skip-verify need TLS; drop them or use --tls implicit/starttls")
		}
		if !isLoopback(host) && !o.allowPlaintext {
			return cutoff, usageErr("--tls none to %s would send passwords in clear: use --tls implicit or starttls (or add --allow-plaintext if you really mean it)", host)
		}
	default:
		return cutoff, usageErr("--tls %q: want implicit, starttls or none", o.tlsMode)
	}
	if o.caFile != "" && o.insecureSkipVerify {
		return cutoff, usageErr("--ca-file and --insecure-skip-verify contradict each other: keep one")
	}
	switch scan.AuthMode(o.auth) {
	case scan.AuthMaster, scan.AuthAuthzID:
		if o.masterUser == "" {
			return cutoff, usageErr("--auth %s needs --master-user (the master user's name; its password comes from $IMPACT_MASTER_PASSWORD, --master-password-file or a prompt)", o.auth)
		}
		if o.auth == string(scan.AuthMaster) && o.sep == "" {
			return cutoff, usageErr("--master-separator must not be empty (Dovecot's default is *)")
		}
		if strings.Contains(o.masterUser, o.sep) && o.auth == string(scan.AuthMaster) {
			return cutoff, usageErr("--master-user %q contains the separator %q", o.masterUser, o.sep)
		}
	case scan.AuthPassword:
		if o.masterUser != "" || o.masterPasswordFile != "" {
			return cutoff, usageErr("--auth password logs in with each mailbox's own password (inventory column): drop --master-user/--master-password-file, or use --auth master")
		}
	default:
		return cutoff, usageErr("--auth %q: want master, authzid or password", o.auth)
	}
	if o.results == "" {
		return cutoff, usageErr("--results is required: the JSON Lines file the scan appends to (and resumes from), e.g. --results scan.jsonl")
	}
	if o.report != "" && !strings.EqualFold(filepath.Ext(o.report), ".xlsx") {
		return cutoff, usageErr("--report %q: the workbook must end in .xlsx", o.report)
	}
	if strings.EqualFold(filepath.Ext(o.results), ".xlsx") {
		return cutoff, usageErr("--results %q: the results file is JSON Lines; name it .jsonl (the workbook goes to --report)", o.results)
	}
	inputs := []namedPath{{"--inventory", o.inventory}, {"--rules", o.rules}, {"--ca-file", o.caFile},
		{"--master-password-file", o.masterPasswordFile}, {"--baseline", o.baseline}}
	for _, p := range o.previous {
		inputs = append(inputs, namedPath{"--previous", p})
	}
	outputs := []namedPath{{"--results", o.results}, {"--report", o.reportPath()}, {"--trace-imap", o.traceFile}}
	if err := checkPaths(inputs, outputs, o.csvDir); err != nil {
		return cutoff, err
	}
	if o.workers < 1 || o.workers > 256 {
		return cutoff, usageErr("--workers %d: want 1 to 256", o.workers)
	}
	if !(o.rate > 0 && o.rate <= 10000) { // also refuses NaN
		return cutoff, usageErr("--rate %g: want a number of new connections per second from above 0 to 10000", o.rate)
	}
	for _, t := range []struct {
		flag string
		d    time.Duration
	}{{"--connect-timeout", o.connectTimeout}, {"--login-timeout", o.loginTimeout}, {"--timeout", o.cmdTimeout}} {
		if t.d < time.Second {
			return cutoff, usageErr("%s %s: want at least 1s, e.g. 30s", t.flag, t.d)
		}
	}
	if o.maxConnections < 0 || o.maxConnections > 256 {
		return cutoff, usageErr("--max-connections %d: want 1 to 256 (0: the default, %d or --workers if higher)", o.maxConnections, scan.DefaultMaxConnections)
	}
	if o.maxConnections != 0 && o.maxConnections < o.workers {
		return cutoff, usageErr("--max-connections %d is below --workers %d: every working probe has a connection", o.maxConnections, o.workers)
	}
	if _, _, err := parseShard(o.shard); err != nil {
		return cutoff, err
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return cutoff, usageErr("--log-format %q: want text or json", o.logFormat)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return cutoff, err
	}
	if err := o.reportFlags.check(); err != nil {
		return cutoff, err
	}
	if o.fresh && o.dryRun {
		return cutoff, usageErr("--fresh and --dry-run together: a dry run changes no file; drop one")
	}
	return cutoff, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (o *scanOptions) reportPath() string {
	if o.report != "" {
		return o.report
	}
	return strings.TrimSuffix(o.results, filepath.Ext(o.results)) + ".xlsx"
}

func cmdScan(ctx context.Context, e *env, args []string) error {
	var o scanOptions
	fs := newFlagSet("scan", e, "impact scan --inventory FILE --server HOST:PORT --cutoff TIME --results FILE [flags]", scanAbout, scanExamples)
	scanFlags(fs, &o)
	for _, a := range args {
		if f := strings.TrimLeft(a, "-"); a != f && (f == "master-password" || strings.HasPrefix(f, "master-password=") || f == "password" || strings.HasPrefix(f, "password=")) {
			return usageErr("the master password is never taken from the command line (ps and shell history would show it): set IMPACT_MASTER_PASSWORD, use --master-password-file FILE, or answer the prompt")
		}
	}
	if err := parse(fs, e, args); err != nil {
		return err
	}
	cutoff, err := o.check()
	if err != nil {
		return err
	}
	if err := o.evidenceFlags.check(); err != nil {
		return err
	}
	return runScan(ctx, e, &o, cutoff, nil)
}

// scanHooks lets the demo reuse the scan path with its own server.
type scanHooks struct {
	masterPassword string
}

func runScan(ctx context.Context, e *env, o *scanOptions, cutoff time.Time, hooks *scanHooks) error {
	rules, pb, err := loadSettings(o.rules)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	ev, err := o.evidenceFlags.evidence(cutoff)
	if err != nil {
		return err
	}
	inv, err := inventory.Read(o.inventory, inventory.Options{Sheet: o.sheet, NeedPassword: o.auth == string(scan.AuthPassword)})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, d := range inv.Duplicates {
		msg := fmt.Sprintf("%s: duplicate of %s (%s), skipped", d.Duplicate, d.Source, d.Mailbox)
		if d.Conflict != "" {
			msg += "; differs: " + d.Conflict
		}
		fmt.Fprintln(e.stderr, "warning:", msg)
	}
	if inv.RejectedRows > 0 {
		const show = 20
		for i, re := range inv.Rejected {
			if i == show {
				fmt.Fprintf(e.stderr, "... and %d more problems\n", len(inv.Rejected)-show)
				break
			}
			fmt.Fprintln(e.stderr, re.Error())
		}
		if !o.skipInvalid {
			return usageErr("%d inventory rows rejected (listed above): fix them, or pass --skip-invalid to scan the %d valid rows", inv.RejectedRows, len(inv.Entries))
		}
		fmt.Fprintf(e.stderr, "warning: %d rows rejected and skipped (--skip-invalid)\n", inv.RejectedRows)
	}
	if len(inv.Entries) == 0 {
		return usageErr("inventory %s holds no mailboxes", o.inventory)
	}
	if _, ok := inv.Columns[inventory.FieldCreated]; !ok && o.baseline == "" {
		fmt.Fprintln(e.stderr, "warning: the inventory has no created (account opening date) column and no --baseline is given:\n"+
			"  a mailbox wiped and re-created empty cannot be told from a new one unless its access column says imap/webmail;\n"+
			"  such mailboxes are reported no_old_mail, not missing_old_mail. Add the opening date, or pass --baseline.")
	}
	shardK, shardN, _ := parseShard(o.shard)
	entries := inShard(inv.Entries, shardK, shardN)
	level, _ := parseLevel(o.logLevel)
	log := newLogger(e.stderr, o.logFormat, level)

	// Lookups by mailbox and account cost a few bytes per entry, not the
	// maps from strings that would double the inventory's memory.
	index := inventory.NewIndex(inv.Entries)
	var prior *priorScan
	if !o.fresh {
		if _, err := os.Stat(o.results); err == nil {
			// A torn last line is reported once, when the file is opened
			// for appending and the line cut off.
			prior, err = readPrior(o.results, index, len(inv.Entries), func(string) {})
			if err != nil && prior.last == nil && prior.records == 0 {
				return usageErr("--results %s is not a results file of impact scan (%v): name another file", o.results, err)
			}
			if err != nil {
				return usageErr("%v: the records before that line are intact; repair or delete the damaged line and rerun (--fresh would discard them all)", err)
			}
			if err := compatible(prior.last, o, cutoff, shardLabel(shardK, shardN)); err != nil {
				return err
			}
			if err := sameInventory(e, prior, o); err != nil {
				return err
			}
		}
	}
	todo := pending(entries, prior, index)
	if len(o.previous) > 0 {
		known, err := knownFailures(o.previous)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		var n int
		todo, n = failuresLast(todo, known)
		if n > 0 {
			fmt.Fprintf(e.stderr, "Scheduling %d mailboxes whose login failed in --previous last, together: their refusals (and Dovecot's penalty) then do not hold up the rest.\n", n)
		}
	}

	if o.dryRun {
		// What the real run would refuse, short of connecting.
		if _, err := tlsConfig(o); err != nil {
			return err
		}
		if hooks == nil && o.auth != string(scan.AuthPassword) && o.masterPasswordFile == "" && e.getenv("IMPACT_MASTER_PASSWORD") == "" {
			fmt.Fprintln(e.stderr, "note: no master password yet: set IMPACT_MASTER_PASSWORD or use --master-password-file, or the scan will ask for it on the terminal")
		}
		if o.masterPasswordFile != "" {
			if _, err := masterPassword(e, o); err != nil {
				return err
			}
		}
		return dryRun(e, o, cutoff, inv, rules, todo)
	}

	password := ""
	if hooks != nil {
		password = hooks.masterPassword
	} else if o.auth != string(scan.AuthPassword) {
		password, err = masterPassword(e, o)
		if err != nil {
			return err
		}
	}
	tlsConf, err := tlsConfig(o)
	if err != nil {
		return err
	}
	var trace io.WriteCloser
	if o.traceFile != "" {
		trace, err = os.OpenFile(o.traceFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("open trace: %w", err)}
		}
		defer trace.Close()
	}
	cfg := scan.Config{
		Server: o.server, TLS: scan.TLSMode(o.tlsMode), TLSConfig: tlsConf,
		Auth: scan.AuthMode(o.auth), MasterUser: o.masterUser, MasterPassword: password, MasterSeparator: o.sep,
		Cutoff:   cutoff,
		Timeouts: scan.Timeouts{Connect: o.connectTimeout, Login: o.loginTimeout, Command: o.cmdTimeout},
	}
	if trace != nil {
		cfg.Trace = trace
	}
	prober, err := scan.NewProber(cfg)
	if err != nil {
		return usageErr("%v", err)
	}

	fmt.Fprintf(e.stderr, "Connecting to %s to identify it (no login)...\n", o.server)
	target, err := scan.Identify(ctx, cfg)
	if err != nil {
		var se *scan.SetupError
		if errors.As(err, &se) {
			return &exitError{code: exitUsage, err: err}
		}
		hint := "is --server right and reachable? nothing was scanned"
		var te *scan.TimeoutError
		if errors.As(err, &te) && o.tlsMode != string(scan.TLSImplicit) {
			hint = "no greeting in plaintext: if this is an implicit-TLS port (993), use --tls implicit; nothing was scanned"
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("%w (%s)", err, hint)}
	}
	printTarget(e.stderr, &target)

	w, torn, err := results.Create(o.results, o.fresh)
	if err != nil {
		return err
	}
	if torn > 0 {
		fmt.Fprintf(e.stderr, "warning: %s ended in a torn line (%d bytes, a crash mid-write); cut off, that mailbox is probed again\n", o.results, torn)
	}
	started := time.Now().UTC()
	header := results.Scan{Kind: results.KindScan, Version: versionString(), StartedAt: started, Cutoff: cutoff,
		Auth: o.auth, Inventory: o.inventory, Mailboxes: len(entries), Target: target, Resumed: prior != nil && prior.records > 0,
		Shard: shardLabel(shardK, shardN)}
	if err := w.Write(header); err != nil {
		w.Close()
		return err
	}
	if header.Resumed {
		fmt.Fprintf(e.stderr, "Resuming %s: %d of %d mailboxes already have a verdict, %d to probe.\n", o.results, len(entries)-len(todo), len(entries), len(todo))
	}
	if header.Shard != "" {
		fmt.Fprintf(e.stderr, "Shard %s: %d of the inventory's %d mailboxes.\n", header.Shard, len(entries), len(inv.Entries))
	}
	if len(todo) == 0 {
		fmt.Fprintf(e.stderr, "Nothing left to probe: every mailbox has a verdict. Writing the report.\n")
	} else {
		fmt.Fprintf(e.stderr, "Probing %d mailboxes with %d workers (up to %d connections while logins are held), at most %g new connections/s; cutoff %s.\n",
			len(todo), o.workers, o.connections(), o.rate, cutoff.Format(time.RFC3339))
	}

	accounts := inventory.GroupAccounts(inv.Entries)
	prog := newProgress(e.stderr, len(todo))
	probed := 0
	var advice []string
	limit, penaltySeen := o.workers, false
	rc := scan.RunConfig{Workers: o.workers, MaxConnections: o.connections(), LoginRate: o.rate, Drain: e.drain,
		Events: func(ev scan.Event) {
			switch ev.Kind {
			case scan.EventPenalty:
				a := penaltyAdvice(target)
				advice = append(advice, a)
				if o.logFormat == "json" {
					// A text log line would say on the same screen
					// what the advice below says.
					log.Warn(ev.Message, "kind", ev.Kind)
				}
				fmt.Fprintf(e.stderr, "\n%s\n\n", a)
				penaltySeen = true
			case scan.EventPause:
				log.Warn(ev.Message, "kind", ev.Kind)
			default:
				log.Info(ev.Message, "kind", ev.Kind, "limit", ev.Limit)
				limit = ev.Limit
			}
			prog.note(loadStatus(limit, penaltySeen))
		}}
	var refused []inventory.Entry
	var loggedIn, loginRefused int // in this run
	firstRefusal := map[string]string{}
	record := func(out scan.Outcome) error {
		rec := out.Record
		if prev, ok := firstRefusal[rec.Mailbox]; ok {
			rec.Attempts = append([]string{"first pass: " + prev}, rec.Attempts...)
		}
		i, known := index.Lookup(rec.Mailbox)
		if known {
			fillFromInventory(&rec, inv.Entries[i])
			rec.MultiMailbox = accounts.Mailboxes(i) >= 2
		}
		classify.DecideWith(&rec, cutoff, rules, ev)
		if err := w.Write(&rec); err != nil {
			return err
		}
		log.Debug("probed", "mailbox", rec.Mailbox, "impact", rec.Impact, "evidence", rec.Evidence,
			"login_ms", rec.Login.DurationMS, "duration_ms", rec.DurationMS, "error", rec.Error)
		if rec.Impact == results.ImpactLoginFailed && o.confirmFailures && known {
			if _, again := firstRefusal[rec.Mailbox]; !again {
				refused = append(refused, inv.Entries[i])
				firstRefusal[rec.Mailbox] = rec.Evidence
			}
		}
		probed++
		switch rec.Login.Outcome {
		case "ok":
			loggedIn++
		case "failed":
			loginRefused++
		}
		prog.done(&rec)
		return nil
	}
	stats, runErr := scan.RunWithStats(ctx, prober, todo, rc, record)
	prog.close()
	if a := noLoginAdvice(loggedIn, loginRefused, target); a != "" {
		advice = append(advice, a)
		fmt.Fprintf(e.stderr, "\nwarning: %s\n\n", a)
	}
	if runErr == nil && len(refused) > 0 {
		// Some servers refuse logins intermittently: ask once more, at the
		// end, all together, so the refusals (and any penalty they bring)
		// do not hold up the rest of the scan.
		fmt.Fprintf(e.stderr, "Confirming %d login failures (--confirm-failures)...\n", len(refused))
		prog = newProgress(e.stderr, len(refused))
		var st2 scan.Stats
		st2, runErr = scan.RunWithStats(ctx, prober, refused, rc, record)
		prog.close()
		stats.PenaltyHeld += st2.PenaltyHeld
		stats.PenaltyWait += st2.PenaltyWait
		stats.PenaltyDetected = stats.PenaltyDetected || st2.PenaltyDetected
		stats.PeakConnections = max(stats.PeakConnections, st2.PeakConnections)
		stats.Pauses += st2.Pauses
		probed -= len(refused) // the same mailboxes, probed twice
	}

	end := results.End{Kind: results.KindEnd, FinishedAt: time.Now().UTC(), Complete: runErr == nil, Probed: probed,
		PeakConnections: stats.PeakConnections, Pauses: stats.Pauses, PenaltyHeld: stats.PenaltyHeld,
		PenaltyWaitS: stats.PenaltyWait.Seconds(), Advice: advice}
	if stats.PenaltyDetected {
		fmt.Fprintf(e.stderr, "Authentication penalty: %d logins were held, %s of login time in all; spread over %d connections, about %s of this scan's time.\n",
			stats.PenaltyHeld, stats.PenaltyWait.Round(time.Second), stats.PeakConnections, (stats.PenaltyWait / time.Duration(max(stats.PeakConnections, 1))).Round(time.Second))
	}
	if runErr != nil {
		end.Reason = runErr.Error()
	}
	if err := w.Write(end); err != nil && runErr == nil {
		runErr = err
	}
	if err := w.Close(); err != nil && runErr == nil {
		runErr = err
	}

	rep, err := writeReportsFrom([]string{o.results}, reportSettings{path: o.reportPath(), rules: rules, playbook: pb,
		inventory: entries, title: o.title, reportFlags: o.reportFlags, replace: hooks != nil, evidence: ev, evidenceFlags: &o.evidenceFlags}, func(w string) { fmt.Fprintln(e.stderr, "warning:", w) })
	if err != nil {
		return fmt.Errorf("write report: %w (the results in %s are intact; rerun with impact report)", err, o.results)
	}
	printSummary(e.stderr, rep, started, o.results, o.reportPath())

	var stop *scan.StopError
	switch {
	case runErr == nil:
	case ctx.Err() != nil:
		return &exitError{code: exitInterrupt, err: errors.New("aborted; rerun the same command to resume")}
	case errors.As(runErr, &stop) && stop.Reason == "interrupted":
		return &exitError{code: exitInterrupt, err: errors.New("interrupted; the report is marked incomplete; rerun the same command to resume")}
	default:
		var se *scan.SetupError
		if errors.As(runErr, &se) {
			return &exitError{code: exitUsage, err: runErr}
		}
		return &exitError{code: exitIncomplete, err: fmt.Errorf("scan stopped: %w; rerun the same command to resume", runErr)}
	}
	if rep.NotProbed > 0 || rep.probeErrors > 0 {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("%d mailboxes without a verdict (probe_error or not probed): rerun the same command to probe them again", rep.NotProbed+rep.probeErrors)}
	}
	return nil
}

// knownFailures are the mailboxes whose login was refused in the last of
// the earlier scans that probed them.
func knownFailures(paths []string) (map[string]bool, error) {
	failed := map[string]bool{}
	err := results.Stream(paths, func(*results.Scan) error { return nil },
		func(m *results.Mailbox) error { failed[m.Mailbox] = m.Login.Outcome == "failed"; return nil },
		func(*results.End) {}, func(string) {})
	return failed, err
}

// failuresLast moves the mailboxes known to fail login to the end, keeping
// the order otherwise. Each failed login makes Dovecot hold every later
// login from this address for seconds; probed together at the end, the
// refusals cost that wait once instead of all through the scan.
func failuresLast(todo []inventory.Entry, failed map[string]bool) ([]inventory.Entry, int) {
	out := make([]inventory.Entry, 0, len(todo))
	var last []inventory.Entry
	for _, e := range todo {
		if failed[e.Mailbox()] {
			last = append(last, e)
		} else {
			out = append(out, e)
		}
	}
	return append(out, last...), len(last)
}

// loadStatus is the progress line's note on how the scan treats the server.
func loadStatus(limit int, penalty bool) string {
	s := fmt.Sprintf("%d at work", limit)
	if penalty {
		s += "; Dovecot auth penalty holding logins, more connections waiting"
	}
	return s
}

// priorScan is what a resumed scan needs of its results file: which
// inventory entries already have a final verdict, how many records name
// mailboxes the inventory does not have, and the last run's header. It is
// read by streaming and kept by entry position, so resuming a scan of a
// million mailboxes holds neither a million records nor a million names.
type priorScan struct {
	final   []bool // by position in the inventory; the last record wins
	records int
	foreign int    // records of mailboxes not in the inventory
	example string // the first such mailbox, for messages
	last    *results.Scan
}

func readPrior(path string, idx *inventory.Index, n int, warn func(string)) (*priorScan, error) {
	p := &priorScan{final: make([]bool, n)}
	err := results.Stream([]string{path},
		func(sc *results.Scan) error { c := *sc; p.last = &c; return nil },
		func(m *results.Mailbox) error {
			p.records++
			if i, ok := idx.Lookup(m.Mailbox); ok {
				p.final[i] = m.Final()
			} else {
				p.foreign++
				if p.example == "" {
					p.example = m.Mailbox
				}
			}
			return nil
		},
		func(*results.End) {}, warn)
	return p, err
}

// compatible refuses to resume a results file written for another server
// or cutoff: mixing them would make a report that is true of neither.
func compatible(last *results.Scan, o *scanOptions, cutoff time.Time, shard string) error {
	if last == nil {
		return nil
	}
	if last.Shard != shard {
		return usageErr("%s holds a scan of shard %q, not %q: use one results file per shard", o.results, last.Shard, shard)
	}
	if last.Target.Server != o.server {
		return usageErr("%s holds a scan of %s, not %s: use another --results file, or --fresh to discard it", o.results, last.Target.Server, o.server)
	}
	if !last.Cutoff.Equal(cutoff) {
		return usageErr("%s holds a scan with cutoff %s, not %s: use another --results file, or --fresh to discard it", o.results, last.Cutoff.Format(time.RFC3339), cutoff.Format(time.RFC3339))
	}
	return nil
}

// sameInventory refuses to resume a results file whose records mostly
// (more than half) name mailboxes that are not in this inventory (the wrong
// inventory, most probably: the report would mix the two), and warns when a
// few do (accounts closed since the scan began; they stay in the report).
func sameInventory(e *env, prior *priorScan, o *scanOptions) error {
	if prior.foreign == 0 {
		return nil
	}
	was := ""
	if prior.last != nil {
		was = fmt.Sprintf(" (it was started with %s, %d mailboxes)", prior.last.Inventory, prior.last.Mailboxes)
	}
	if prior.foreign*2 > prior.records {
		return usageErr("%s holds results for mailboxes that are not in %s (%d of its %d records, e.g. %s)%s: use another --results file for this inventory, or --fresh to discard the results",
			o.results, o.inventory, prior.foreign, prior.records, prior.example, was)
	}
	fmt.Fprintf(e.stderr, "warning: %s holds results for mailboxes that are not in %s (%d of its %d records, e.g. %s)%s; they stay in the report\n",
		o.results, o.inventory, prior.foreign, prior.records, prior.example, was)
	return nil
}

// pending returns the entries without a final record, in inventory order.
func pending(entries []inventory.Entry, prior *priorScan, idx *inventory.Index) []inventory.Entry {
	if prior == nil {
		return entries
	}
	var todo []inventory.Entry
	for _, e := range entries {
		if i, ok := idx.Lookup(e.Mailbox()); !ok || !prior.final[i] {
			todo = append(todo, e)
		}
	}
	return todo
}

func fillFromInventory(rec *results.Mailbox, e inventory.Entry) {
	rec.AccountID = e.AccountID()
	rec.RawType = e.CustomerType()
	rec.Product = e.Product()
	rec.Access = e.Access()
	rec.ContactName = e.ContactName()
	rec.ContactPhone = e.ContactPhone()
	if c := e.Created(); !c.IsZero() {
		rec.Created = c.Format(time.DateOnly)
	}
}

// noLoginAdvice warns when many logins were refused and none worked: in
// an incident some mailboxes are gone, not all of them, so it is more
// likely the wrong server (the incident began with a console pointed at
// the wrong system) or the wrong inventory than a total loss. "" when
// not so.
func noLoginAdvice(ok, refused int, t results.Target) string {
	if ok > 0 || refused < 10 {
		return ""
	}
	return fmt.Sprintf("no login succeeded: all %d logins of this run were refused. Before acting on this report, check that %s (%s) "+
		"is the server that holds these mailboxes and that the inventory is the right one: a whole platform lost is less likely than the wrong target",
		refused, t.Server, strings.Join(t.Addresses, ", "))
}

// connections is the ceiling on open connections: --max-connections, by
// default 64 or --workers if higher.
func (o *scanOptions) connections() int {
	return scan.ConnectionCeiling(o.workers, o.maxConnections)
}

func tlsConfig(o *scanOptions) (*tls.Config, error) {
	if o.tlsMode == string(scan.TLSNone) {
		return nil, nil
	}
	c := &tls.Config{InsecureSkipVerify: o.insecureSkipVerify}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--ca-file: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageErr("--ca-file %s: no PEM certificate found in it", o.caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// masterPassword reads the master password from the environment, a file
// or the terminal: never from argv, where ps and shell history show it.
func masterPassword(e *env, o *scanOptions) (string, error) {
	if o.masterPasswordFile != "" {
		b, err := os.ReadFile(o.masterPasswordFile)
		if err != nil {
			return "", &exitError{code: exitUsage, err: fmt.Errorf("--master-password-file: %w", err)}
		}
		pw := strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
		if pw == "" {
			return "", usageErr("--master-password-file %s: the first line is empty", o.masterPasswordFile)
		}
		return pw, nil
	}
	if pw := e.getenv("IMPACT_MASTER_PASSWORD"); pw != "" {
		return pw, nil
	}
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "Master password for %s: ", o.masterUser)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if len(b) == 0 {
			return "", usageErr("empty master password")
		}
		return string(b), nil
	}
	return "", usageErr("no master password: set IMPACT_MASTER_PASSWORD, pass --master-password-file FILE, or run on a terminal to be asked")
}

func printTarget(w io.Writer, t *results.Target) {
	fmt.Fprintf(w, "Target server:  %s (TLS: %s)\n", t.Server, t.TLS)
	fmt.Fprintf(w, "  resolved:     %s (connected to %s)\n", strings.Join(t.Addresses, ", "), t.Connected)
	fmt.Fprintf(w, "  greeting:     %s\n", t.Greeting)
	if t.CertSHA256 != "" {
		v := "verified"
		if !t.Verified {
			v = "NOT verified (--insecure-skip-verify)"
		}
		fmt.Fprintf(w, "  certificate:  %s, issued by %s, valid until %s, %s\n", t.CertSubject, t.CertIssuer, t.CertNotAfter, v)
		fmt.Fprintf(w, "  SHA-256:      %s\n", t.CertSHA256)
	} else {
		fmt.Fprintf(w, "  certificate:  none (plaintext)\n")
	}
	fmt.Fprintf(w, "  capabilities: %s\n", strings.Join(t.Capabilities, " "))
}

func dryRun(e *env, o *scanOptions, cutoff time.Time, inv *inventory.Inventory, rules *classify.Rules, todo []inventory.Entry) error {
	w := e.stdout
	fmt.Fprintf(w, "Dry run: nothing will be connected to.\n")
	fmt.Fprintf(w, "Server:     %s (TLS %s), auth %s", o.server, o.tlsMode, o.auth)
	if o.masterUser != "" {
		fmt.Fprintf(w, " as master user %s", o.masterUser)
	}
	fmt.Fprintf(w, "\nCutoff:     %s (%s UTC)\n", cutoff.Format(time.RFC3339), cutoff.UTC().Format("2006-01-02 15:04"))
	cols := make([]string, 0, len(inv.Columns))
	for k, v := range inv.Columns {
		cols = append(cols, k+"="+v)
	}
	sort.Strings(cols)
	fmt.Fprintf(w, "Inventory:  %s: %d mailboxes, %d duplicates skipped, %d rows rejected\n", o.inventory, len(inv.Entries), len(inv.Duplicates), inv.RejectedRows)
	fmt.Fprintf(w, "Columns:    %s\n", strings.Join(cols, ", "))
	types := map[string]int{}
	for _, en := range inv.Entries {
		t, _ := rules.CustomerType(en.Mailbox(), en.CustomerType(), en.Product())
		types[t]++
	}
	accounts := inventory.GroupAccounts(inv.Entries)
	fmt.Fprintf(w, "Accounts:   %d (%d with several mailboxes)\n", accounts.Len(), accounts.Multi())
	fmt.Fprintf(w, "Mailboxes:  business %d, residential %d, unknown type %d\n", types[results.TypeBusiness], types[results.TypeResidential], types[results.TypeUnknown])
	fmt.Fprintf(w, "Load:       %d workers, up to %d connections while logins are held, at most %g new connections/s\n", o.workers, o.connections(), o.rate)
	fmt.Fprintf(w, "To probe:   %d (results file %s)\n", len(todo), o.results)
	for i, en := range todo {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more\n", len(todo)-10)
			break
		}
		fmt.Fprintf(w, "  %s (account %s, %s)\n", en.Mailbox(), en.AccountID(), en.Source())
	}
	fmt.Fprintf(w, "Report:     %s\n", o.reportPath())
	return nil
}
