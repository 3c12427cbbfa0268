package dovecottest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/impact-ops/impact/internal/syncbuf"
)

// InstallHint is the command that installs the Dovecot this package runs.
const InstallHint = "apt-get install -y --no-install-recommends dovecot-imapd dovecot-core"

// dhFile holds Diffie-Hellman parameters shipped by Debian's dovecot-core.
const dhFile = "/usr/share/dovecot/dh.pem"

// Server is one running Dovecot instance started by Start.
type Server struct {
	// Addr is the plain IMAP listener, "127.0.0.1:PORT"; it offers STARTTLS
	// and allows plaintext authentication.
	Addr string
	// TLSAddr is the implicit-TLS IMAP listener, "127.0.0.1:PORT".
	TLSAddr string
	// Host is the address both listeners bind, "127.0.0.1"; the server
	// certificate is valid for it, for ::1 and for "localhost".
	Host string
	// CAFile is the PEM file of the CA that signed the server certificate.
	CAFile string
	// CertSHA256 is the lowercase hex SHA-256 of the server certificate's DER.
	CertSHA256 string
	// MasterUser and MasterPassword log in as any existing user with
	// LOGIN "user*MasterUser" or SASL PLAIN (authzid user, authcid MasterUser).
	MasterUser     string
	MasterPassword string
	// Dir holds the configuration, sockets, state, log and mail.
	Dir string

	tb      testing.TB
	conf    string
	logPath string
	mailDir string
	doveadm string
	writer  *maildirWriter
	stderr  *syncbuf.Buffer
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Option changes the configuration written by Start.
type Option func(*options)

type options struct {
	trusted          bool
	noPenalty        bool
	maxUserIPConns   int
	authFailureDelay *time.Duration
}

// Trusted puts 127.0.0.0/8 in login_trusted_networks, as a production
// server may do for the host a scan runs from. Measured on Dovecot 2.3.19:
// this does NOT exempt the address from the authentication penalty (the 2.3
// login processes no longer ask the auth process to skip it); use NoPenalty
// for that. Without either, Dovecot's default penalty is in force.
func Trusted() Option { return func(o *options) { o.trusted = true } }

// NoPenalty turns off the authentication penalty (anvil's 2, 4, 8, 15 s
// wait after failed logins from an IP) by making its socket unreachable for
// the auth process, as Dovecot's documentation suggests. auth_failure_delay
// stays in force.
func NoPenalty() Option { return func(o *options) { o.noPenalty = true } }

// MaxUserIPConnections sets mail_max_userip_connections (Dovecot's default
// is 10): how many IMAP sessions one user may hold from one IP address.
func MaxUserIPConnections(n int) Option { return func(o *options) { o.maxUserIPConns = n } }

// AuthFailureDelay sets auth_failure_delay (Dovecot's default is 2 s), the
// time the auth process waits before it answers a failed authentication, in
// whole seconds. Dovecot checks its queue of delayed failures every 0.5 s, so
// 0 still answers after up to half a second.
func AuthFailureDelay(d time.Duration) Option {
	return func(o *options) { o.authFailureDelay = &d }
}

// Start writes f and starts a private Dovecot on free loopback ports. It
// returns once both listeners greet. The server stops in t.Cleanup, which
// also writes the Dovecot log into the test output if the test failed.
// Without the dovecot binary Start calls t.Skip, or t.Fatal when the
// environment variable CI is set.
func Start(t testing.TB, f Fixture, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dovecot, doveadm := findBinary("dovecot", "/usr/sbin/dovecot"), findBinary("doveadm", "/usr/bin/doveadm")
	if msg, fatal := missingBinaries(dovecot, doveadm, inCI()); fatal {
		t.Fatal(msg)
	} else if msg != "" {
		t.Skip(msg)
	}

	dir := t.TempDir()
	s := &Server{
		Host:       "127.0.0.1",
		MasterUser: "impactmaster",
		Dir:        dir,
		tb:         t,
		conf:       filepath.Join(dir, "dovecot.conf"),
		logPath:    filepath.Join(dir, "dovecot.log"),
		mailDir:    filepath.Join(dir, "mail"),
		doveadm:    doveadm,
		stderr:     &syncbuf.Buffer{},
	}
	if err := s.prepare(f); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("dovecottest: %v", err)
		}
		if t.Failed() {
			t.Logf("dovecottest: Dovecot log (%s):\n%s", s.logPath, tail(s.Log(), 64<<10))
		}
		s.removeMail()
	})

	const attempts = 5
	for attempt := 1; ; attempt++ {
		err := s.launch(dovecot, o)
		if err == nil {
			s.writer.live.Store(true)
			return s
		}
		// Another process can take a port between our probe and Dovecot's
		// bind; that is worth another pair of ports, nothing else is.
		if attempt < attempts && strings.Contains(s.Log(), "Address already in use") {
			if serr := s.stop(); serr != nil {
				t.Fatalf("dovecottest: %v", serr)
			}
			_ = os.Truncate(s.logPath, 0)
			s.stderr.Reset()
			continue
		}
		t.Fatalf("dovecottest: %v\nDovecot log:\n%s", err, tail(s.Log(), 64<<10))
	}
}

// prepare writes everything but the configuration file.
func (s *Server) prepare(f Fixture) error {
	if strings.ContainsAny(s.Dir, " \t\n\"'#{}<\\") {
		return fmt.Errorf("temporary directory %q has characters a dovecot.conf value cannot carry; set TMPDIR", s.Dir)
	}
	if _, err := os.Stat(dhFile); err != nil {
		return fmt.Errorf("ssl_dh file: %w (Debian's dovecot-core ships it)", err)
	}
	owner, err := mailUser()
	if err != nil {
		return err
	}
	// Dovecot's auth process (user dovecot) reads the passwd-file and the
	// mail user reads the Maildirs: both must get through the temporary
	// directories, which Go creates 0700.
	if owner.chown {
		for _, d := range []string{filepath.Dir(s.Dir), s.Dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				return fmt.Errorf("make %s traversable: %w", d, err)
			}
		}
		for d := filepath.Dir(filepath.Dir(s.Dir)); ; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
				return fmt.Errorf("%s is not searchable by other users, so Dovecot's unprivileged processes cannot reach %s; set TMPDIR to a directory such as /tmp", d, s.Dir)
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	for _, d := range []string{"run", "state", "tls", "auth"} {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	tf, err := writeTLS(filepath.Join(s.Dir, "tls"))
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	s.CAFile, s.CertSHA256 = tf.caFile, tf.certSHA256

	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return fmt.Errorf("master password: %w", err)
	}
	s.MasterPassword = hex.EncodeToString(pw)
	if err := os.WriteFile(filepath.Join(s.Dir, "auth", "master.passwd"),
		[]byte(s.MasterUser+":{PLAIN}"+s.MasterPassword+"\n"), 0o644); err != nil {
		return fmt.Errorf("write master passwd-file: %w", err)
	}

	s.writer = &maildirWriter{owner: owner, pid: os.Getpid()}
	// The mail root belongs to the mail user so that Dovecot can create a
	// missing home, as a real server does for a user without a Maildir.
	if err := s.writer.mkdir(s.mailDir); err != nil {
		return err
	}
	return s.writeFixture(f)
}

// writeFixture writes the users' passwd-file and their Maildirs.
func (s *Server) writeFixture(f Fixture) error {
	owner := s.writer.owner
	var passwd bytes.Buffer
	seen := make(map[string]bool, len(f.Users))
	var maildirs []User
	for _, u := range f.Users {
		if err := validateUserName(u.Name); err != nil {
			return err
		}
		if seen[u.Name] {
			return fmt.Errorf("user %q listed twice", u.Name)
		}
		seen[u.Name] = true
		if (u.Absent || u.NoMaildir) && len(u.Folders) > 0 {
			return fmt.Errorf("user %q: Absent and NoMaildir users have no folders", u.Name)
		}
		if u.Absent {
			continue
		}
		if err := validatePassword(u.Name, u.Password); err != nil {
			return err
		}
		home := filepath.Join(s.mailDir, u.Name)
		// passwd-file: user:password:uid:gid:gecos:home:shell:extra
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s::\n", u.Name, u.Password, owner.uid, owner.gid, home)
		if !u.NoMaildir {
			maildirs = append(maildirs, u)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "auth", "users.passwd"), passwd.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write users passwd-file: %w", err)
	}
	// Writing is bound by file-system metadata operations (mkdir, chown,
	// utimes, rename); one writer per CPU keeps both cores busy.
	var g errgroup.Group
	g.SetLimit(fileWorkers())
	for _, u := range maildirs {
		g.Go(func() error { return s.writer.writeUser(s.MaildirPath(u.Name), u) })
	}
	return g.Wait()
}

// removeMail deletes the Maildirs in parallel before t.TempDir's serial
// RemoveAll, which takes seconds for thousands of Maildirs.
func (s *Server) removeMail() {
	entries, err := os.ReadDir(s.mailDir)
	if err != nil {
		return
	}
	var g errgroup.Group
	g.SetLimit(fileWorkers())
	for _, e := range entries {
		g.Go(func() error { return os.RemoveAll(filepath.Join(s.mailDir, e.Name())) })
	}
	_ = g.Wait() // t.TempDir's own cleanup reports what is left
}

func fileWorkers() int { return runtime.GOMAXPROCS(0) }

// launch picks ports, writes the configuration, runs Dovecot and waits
// until both listeners greet.
func (s *Server) launch(dovecot string, o options) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	s.Addr = net.JoinHostPort(s.Host, strconv.Itoa(ports[0]))
	s.TLSAddr = net.JoinHostPort(s.Host, strconv.Itoa(ports[1]))
	conf, err := s.config(ports[0], ports[1], o)
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", s.conf, err)
	}

	cmd := exec.Command(dovecot, "-F", "-c", s.conf)
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	// Its own process group lets stop reach every child; Pdeathsig stops the
	// master (which stops its children) if the test binary dies without
	// running cleanups, e.g. on a test timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", dovecot, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	return s.waitReady(20 * time.Second)
}

// waitReady waits until the plain listener greets and the TLS listener
// completes a verified handshake and greets.
func (s *Server) waitReady(timeout time.Duration) error {
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	roots.AppendCertsFromPEM(caPEM)
	tlsConf := &tls.Config{RootCAs: roots, ServerName: s.Host}

	deadline := time.Now().Add(timeout)
	var lastErr error
	for _, addr := range []string{s.Addr, s.TLSAddr} {
		for {
			select {
			case <-s.exited:
				return fmt.Errorf("dovecot exited during startup (%v): %s", s.cmd.ProcessState, strings.TrimSpace(s.stderr.String()))
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("dovecot not ready on %s after %v: %v", addr, timeout, lastErr)
			}
			if lastErr = greet(addr, tlsConf, addr == s.TLSAddr); lastErr == nil {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	return nil
}

// greet connects to addr, over TLS if useTLS, and expects an IMAP OK greeting.
func greet(addr string, tlsConf *tls.Config, useTLS bool) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if useTLS {
		tc := tls.Client(conn, tlsConf)
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("unexpected greeting %q", strings.TrimSpace(line))
	}
	_, _ = conn.Write([]byte("a LOGOUT\r\n"))
	return nil
}

func (s *Server) config(plainPort, tlsPort int, o options) (string, error) {
	owner := s.writer.owner
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Written by internal/dovecottest for one test run. Not for production.")
	p("instance_name = dovecottest-%s", filepath.Base(filepath.Dir(s.Dir)))
	p("base_dir = %s", filepath.Join(s.Dir, "run"))
	p("state_dir = %s", filepath.Join(s.Dir, "state"))
	p("log_path = %s", s.logPath)
	p("protocols = imap")
	p("listen = %s", s.Host)
	p("shutdown_clients = yes")
	p("")
	p("ssl = yes")
	p("ssl_cert = <%s", filepath.Join(s.Dir, "tls", "server.pem"))
	p("ssl_key = <%s", filepath.Join(s.Dir, "tls", "server.key"))
	p("ssl_dh = <%s", dhFile)
	p("")
	p("disable_plaintext_auth = no")
	p("auth_mechanisms = plain login")
	p("auth_master_user_separator = *")
	p("auth_verbose = yes")
	if o.authFailureDelay != nil {
		p("auth_failure_delay = %ds", int(o.authFailureDelay.Round(time.Second)/time.Second))
	}
	if o.trusted {
		p("login_trusted_networks = 127.0.0.0/8")
	}
	if o.maxUserIPConns > 0 {
		p("mail_max_userip_connections = %d", o.maxUserIPConns)
	}
	p("")
	p("passdb {")
	p("  driver = passwd-file")
	p("  args = scheme=PLAIN %s", filepath.Join(s.Dir, "auth", "master.passwd"))
	p("  master = yes")
	p("  pass = yes")
	p("}")
	p("passdb {")
	p("  driver = passwd-file")
	p("  args = scheme=PLAIN %s", filepath.Join(s.Dir, "auth", "users.passwd"))
	p("}")
	p("userdb {")
	p("  driver = passwd-file")
	p("  args = %s", filepath.Join(s.Dir, "auth", "users.passwd"))
	p("}")
	p("")
	p("mail_location = maildir:~/Maildir")
	p("mail_uid = %d", owner.uid)
	p("mail_gid = %d", owner.gid)
	p("first_valid_uid = %d", owner.uid)
	p("last_valid_uid = %d", owner.uid)
	p("first_valid_gid = %d", owner.gid)
	p("last_valid_gid = %d", owner.gid)
	p("namespace inbox {")
	p("  inbox = yes")
	p("  separator = /")
	p("  prefix =")
	p("}")
	p("")
	if !owner.chown {
		// Unprivileged master: every service runs as the invoking user and
		// nothing can chroot.
		name, group, err := currentUserAndGroup()
		if err != nil {
			return "", err
		}
		p("default_internal_user = %s", name)
		p("default_internal_group = %s", group)
		p("default_login_user = %s", name)
		p("service auth-worker {")
		p("  user = $default_internal_user")
		p("}")
	}
	p("service anvil {")
	if !owner.chown {
		p("  chroot =")
	}
	if o.noPenalty {
		p("  unix_listener anvil-auth-penalty {")
		p("    mode = 0")
		p("  }")
	}
	p("}")
	p("service imap-login {")
	if !owner.chown {
		p("  chroot =")
	}
	p("  inet_listener imap {")
	p("    address = %s", s.Host)
	p("    port = %d", plainPort)
	p("  }")
	p("  inet_listener imaps {")
	p("    address = %s", s.Host)
	p("    port = %d", tlsPort)
	p("    ssl = yes")
	p("  }")
	p("}")
	return b.String(), nil
}

// stop ends the process group: SIGTERM (Dovecot's master then ends its
// children), SIGKILL after 10 s, and waits until no process of the group is
// left.
func (s *Server) stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	pgid := s.cmd.Process.Pid
	s.cmd = nil
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	// Children see the master's death through a pipe and exit on their own;
	// give them a moment before forcing it.
	start := time.Now()
	killed := false
	for {
		left := groupMembers(pgid)
		if len(left) == 0 {
			return nil
		}
		switch waited := time.Since(start); {
		case waited > 10*time.Second:
			return fmt.Errorf("stop dovecot: processes %v of group %d outlived SIGKILL", left, pgid)
		case waited > 2*time.Second && !killed:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			killed = true
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupMembers lists the live (not zombie) processes in process group pgid.
func groupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Log returns Dovecot's log file and anything the master wrote to stdout or
// stderr (startup errors come there). Passwords are not logged
// (auth_verbose_passwords is off).
func (s *Server) Log() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		data = []byte(fmt.Sprintf("(read %s: %v)\n", s.logPath, err))
	}
	if out := s.stderr.String(); out != "" {
		data = append(data, "--- dovecot stdout/stderr ---\n"+out...)
	}
	return string(data)
}

// Doveadm runs doveadm against this instance, e.g. Doveadm("penalty") or
// Doveadm("mailbox", "status", "-u", user, "messages", "*"), and returns its
// standard output. The error carries the exit status and standard error.
// It gives up after 60 s.
func (s *Server) Doveadm(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.doveadm, append([]string{"-c", s.conf}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("doveadm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// MaildirPath returns the Maildir root (INBOX) of user; it need not exist.
func (s *Server) MaildirPath(user string) string {
	return filepath.Join(s.mailDir, user, "Maildir")
}

// AddMessages delivers msgs into folder ("INBOX" or a '/'-separated name,
// created if missing) of user's Maildir, with the mtimes set before the files
// become visible. Dovecot picks them up at its next sync of the folder. It
// calls t.Fatal on error, so call it from the test's goroutine.
func (s *Server) AddMessages(user, folder string, msgs ...Message) {
	s.tb.Helper()
	if err := s.writer.writeFolder(s.MaildirPath(user), user, folder, msgs); err != nil {
		s.tb.Fatalf("dovecottest: add messages: %v", err)
	}
}

// DropIndexes deletes Dovecot's index and cache files (dovecot.index*,
// dovecot.list.index*) of user's Maildir, so that the next session reads
// INTERNALDATEs from the files' mtimes again. dovecot-uidlist stays, so UIDs
// and UIDVALIDITY do not change. Call it while no session of user is open.
func (s *Server) DropIndexes(user string) {
	s.tb.Helper()
	if err := dropIndexes(s.MaildirPath(user)); err != nil {
		s.tb.Fatalf("dovecottest: drop indexes of %q: %v", user, err)
	}
}

// mailUser returns who owns the mail. As root that is the unprivileged
// "nobody" (present on every Debian system, so nothing is added to
// /etc/passwd); otherwise it is the invoking user, because an unprivileged
// Dovecot cannot change users.
func mailUser() (mailOwner, error) {
	if os.Geteuid() != 0 {
		return mailOwner{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	for _, name := range []string{"dovecot", "dovenull"} {
		if _, err := user.Lookup(name); err != nil {
			return mailOwner{}, fmt.Errorf("system user %q missing (dovecot-core's install creates it): %w", name, err)
		}
	}
	o := mailOwner{uid: 65534, gid: 65534, chown: true}
	if u, err := user.Lookup("nobody"); err == nil {
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil && uid != 0 {
			o.uid, o.gid = uid, gid
		}
	}
	return o, nil
}

func currentUserAndGroup() (name, group string, err error) {
	u, err := user.Current()
	if err != nil {
		return "", "", fmt.Errorf("look up the invoking user: %w", err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	if err != nil {
		return "", "", fmt.Errorf("look up the invoking user's group: %w", err)
	}
	return u.Username, g.Name, nil
}

// findBinary looks name up in PATH, then at fallback (sbin is often not in a
// non-root PATH). It returns "" if neither exists.
func findBinary(name, fallback string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if st, err := os.Stat(fallback); err == nil && st.Mode()&0o111 != 0 {
		return fallback
	}
	return ""
}

// missingBinaries decides what Start does when dovecot or doveadm (paths,
// "" when not found) is missing: nothing (""), skip with msg, or fail with
// msg in CI, which must run these tests.
func missingBinaries(dovecot, doveadm string, ci bool) (msg string, fatal bool) {
	if dovecot != "" && doveadm != "" {
		return "", false
	}
	msg = "dovecot or doveadm not installed; install with: " + InstallHint
	if ci {
		return msg + " (CI is set: these tests must run, not skip)", true
	}
	return msg, false
}

// inCI reports whether the environment says this is a CI run.
func inCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "0" && v != "false"
}

// freePorts returns n distinct loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...(truncated)...\n" + s[len(s)-n:]
}
