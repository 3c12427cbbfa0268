package demo

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"
)

// MasterSeparator separates the mailbox from the master user in a LOGIN
// user name ("mailbox*master"), as Dovecot's auth_master_user_separator.
const MasterSeparator = "*"

// Server is an incident's in-process IMAP server: plaintext, on 127.0.0.1,
// serving each present mailbox's folders and messages read-only.
//
// It behaves like Dovecot 2.3 with a master user where a scan can tell:
//   - LOGIN "mailbox*master" masterpw, or AUTHENTICATE PLAIN with authorization
//     identity = mailbox and authentication identity = master user (RFC 4616),
//     logs in as the mailbox; a mailbox's own password also works.
//   - With master credentials, an absent mailbox is refused with
//     NO [AUTHORIZATIONFAILED]; a wrong master password, or a mailbox's own
//     password for an absent or unknown mailbox, with NO [AUTHENTICATIONFAILED]
//     (RFC 5530). Failures are answered at once (no auth_failure_delay).
//   - Capabilities: before login IMAP4rev1 SASL-IR LITERAL- AUTH=PLAIN; after
//     login also UNSELECT ENABLE IDLE UTF8=ACCEPT NAMESPACE ESEARCH
//     LIST-EXTENDED LIST-STATUS CHILDREN SPECIAL-USE. No IMAP4rev2, no
//     CONDSTORE, no SEARCHRES, no MOVE, no UIDPLUS, no ID.
//   - Folder names use "/" as delimiter; INBOX is case-insensitive. LIST
//     always carries \HasChildren or \HasNoChildren and the special-use
//     attribute (\Sent, \Drafts, \Trash); a NoSelect folder is \Noselect.
//   - INTERNALDATEs are shown in UTC+02:00; SEARCH SINCE/BEFORE compare the
//     date in that zone, as a server compares in its own zone.
//   - Old mail is \Seen, new mail unseen, drafts \Draft; UIDs are ascending,
//     with gaps in some folders.
//
// Nothing changes a mailbox: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
// APPEND, STORE and COPY are refused with NO [CANNOT] and counted in
// Stats.Writes (so are non-PEEK body fetches after SELECT, which are served
// without setting \Seen); EXPUNGE and CLOSE succeed with nothing to expunge.
type Server struct {
	// Addr is the address the server listens on, "127.0.0.1:port".
	Addr string

	imap     *imapserver.Server
	served   chan struct{}
	stop     func() bool
	once     sync.Once
	closeErr error
	stats    counters
}

// Stats are the server's counters since Start, for tests that check how a
// scan used the server.
type Stats struct {
	Connections   int64 // connections accepted
	MaxConcurrent int64 // most connections open at the same time
	Logins        int64 // successful LOGIN and AUTHENTICATE
	FailedLogins  int64 // refused LOGIN and AUTHENTICATE
	Selects       int64 // SELECT (read-write)
	Examines      int64 // EXAMINE (read-only)
	// Writes counts commands that would change a mailbox on a real server:
	// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, APPEND, STORE, COPY,
	// and FETCH of a non-PEEK body section in a SELECTed folder.
	Writes int64
	// ServerErrors counts commands that failed inside the server (answered
	// NO [SERVERBUG] or a recovered panic): a bug of this package, never a
	// finding.
	ServerErrors int64
}

type counters struct {
	connections, active, maxActive          atomic.Int64
	logins, failedLogins, selects, examines atomic.Int64
	writes, serverErrors                    atomic.Int64
}

func (c *counters) opened() {
	c.connections.Add(1)
	n := c.active.Add(1)
	for {
		m := c.maxActive.Load()
		if n <= m || c.maxActive.CompareAndSwap(m, n) {
			return
		}
	}
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Connections:   c.connections.Load(),
		MaxConcurrent: c.maxActive.Load(),
		Logins:        c.logins.Load(),
		FailedLogins:  c.failedLogins.Load(),
		Selects:       c.selects.Load(),
		Examines:      c.examines.Load(),
		Writes:        c.writes.Load(),
		ServerErrors:  c.serverErrors.Load(),
	}
}

// Start serves inc on 127.0.0.1 at a free port until Close is called or ctx
// ends. The server copies what it needs from inc; inc may be changed or
// dropped afterwards. Connections are served concurrently, each on its own
// goroutine.
//
// Errors: ctx has ended, inc is nil, two mailboxes share a login (compared
// case-insensitively), or the listener cannot be opened.
func Start(ctx context.Context, inc *Incident) (*Server, error) {
	if inc == nil {
		return nil, errors.New("start demo server: no incident")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start demo server: %w", err)
	}
	b, err := newBackend(inc)
	if err != nil {
		return nil, fmt.Errorf("start demo server: %w", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start demo server: listen: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), served: make(chan struct{})}
	b.stats = &s.stats
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			s.stats.opened()
			return &session{b: b}, nil, nil
		},
		Caps: imap.CapSet{
			imap.CapIMAP4rev1:    {},
			imap.CapNamespace:    {},
			imap.CapESearch:      {},
			imap.CapListExtended: {},
			imap.CapListStatus:   {},
			imap.CapChildren:     {},
			imap.CapSpecialUse:   {},
		},
		// imapserver logs every dropped connection; internal/ never prints.
		Logger: errorCounter{&s.stats},
		// Plaintext on loopback: the demo has no certificate to offer.
		InsecureAuth: true,
	})
	go func() {
		defer close(s.served)
		s.imap.Serve(ln)
	}()
	s.stop = context.AfterFunc(ctx, func() { s.Close() })
	return s, nil
}

// Close stops listening, drops every connection and waits for the accept
// loop to end. It is safe to call more than once and from several
// goroutines; later calls return the first call's error.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop()
		s.closeErr = s.imap.Close()
		<-s.served
	})
	return s.closeErr
}

// errorCounter is imapserver's logger: it drops the messages and counts
// the ones that mean a command failed inside the server.
type errorCounter struct{ c *counters }

func (e errorCounter) Printf(format string, _ ...any) {
	if strings.HasPrefix(format, "panic handling command") || strings.HasPrefix(format, "handling %v command") {
		e.c.serverErrors.Add(1)
	}
}

// backend is the server's copy of the incident; it never changes after
// newBackend, so sessions read it without locks. It is laid out flat (one
// slice each of users, folders and message times, sliced per user and
// folder) so that 100,000 mailboxes cost little more than their data.
type backend struct {
	cutoff     time.Time
	zone       *time.Location // INTERNALDATEs are shown in it
	master     string
	masterPass string
	users      []user
	byLogin    map[string]int32 // lower-cased login -> index in users
	stats      *counters
}

type user struct {
	name     string
	password string
	folders  []folder // INBOX first, then by name
}

type folder struct {
	name        string
	noSelect    bool
	children    bool
	specialUse  imap.MailboxAttr
	uidValidity uint32
	uidStep     uint32 // UIDs are 1, 1+step, 1+2*step, ...
	// times are the INTERNALDATEs as Unix seconds: INTERNALDATE has no
	// finer resolution (RFC 9051 2.3.3).
	times []int64
}

func (f *folder) uid(i int) imap.UID { return imap.UID(1 + uint32(i)*f.uidStep) }

func (f *folder) uidNext() imap.UID { return imap.UID(1 + uint32(len(f.times))*f.uidStep) }

// time is message i's INTERNALDATE in the server's zone.
func (b *backend) time(f *folder, i int) time.Time { return time.Unix(f.times[i], 0).In(b.zone) }

// user returns the present mailbox whose login is name (without regard to
// case), or nil.
func (b *backend) user(name string) *user {
	i, ok := b.byLogin[strings.ToLower(name)]
	if !ok {
		return nil
	}
	return &b.users[i]
}

func newBackend(inc *Incident) (*backend, error) {
	b := &backend{
		cutoff:     inc.Cutoff,
		zone:       serverZone(),
		master:     inc.MasterUser,
		masterPass: inc.MasterPassword,
	}
	var present, folders, messages int
	for i := range inc.Mailboxes {
		if mb := &inc.Mailboxes[i]; !mb.Absent {
			present++
			folders += len(mb.Folders)
			for _, f := range mb.Folders {
				if !f.NoSelect {
					messages += len(f.Messages)
				}
			}
		}
	}
	b.users = make([]user, 0, present)
	b.byLogin = make(map[string]int32, present)
	allFolders := make([]folder, 0, folders)
	allTimes := make([]int64, 0, messages)
	for i := range inc.Mailboxes {
		mb := &inc.Mailboxes[i]
		if mb.Absent {
			continue
		}
		key := strings.ToLower(mb.Entry.Mailbox())
		if _, dup := b.byLogin[key]; dup {
			return nil, fmt.Errorf("mailbox %s appears twice", mb.Entry.Mailbox())
		}
		// One copy for both: substrings of the entry would keep all of
		// the incident's entry alive.
		m, pw := mb.Entry.Mailbox(), mb.Entry.Password()
		np := m + pw
		u := user{name: np[:len(m)], password: np[len(m):]}
		if key == m {
			key = u.name
		}
		first := len(allFolders)
		for _, f := range mb.Folders {
			name := f.Name
			if isInbox(name) {
				name = FolderInbox
			}
			t0 := len(allTimes)
			if !f.NoSelect {
				for _, t := range f.Messages {
					allTimes = append(allTimes, t.Unix())
				}
			}
			allFolders = append(allFolders, folder{
				name:        name,
				noSelect:    f.NoSelect,
				specialUse:  imap.MailboxAttr(specialUse(name)),
				uidValidity: max(f.UIDValidity, 1),
				uidStep:     1 + f.UIDValidity%2,
				times:       allTimes[t0:len(allTimes):len(allTimes)],
			})
		}
		u.folders = allFolders[first:len(allFolders):len(allFolders)]
		slices.SortFunc(u.folders, func(a, b folder) int {
			inboxA, inboxB := a.name == FolderInbox, b.name == FolderInbox
			switch {
			case inboxA != inboxB && inboxA:
				return -1
			case inboxA != inboxB:
				return 1
			}
			return cmp.Compare(a.name, b.name)
		})
		for j := range u.folders {
			for _, g := range u.folders {
				if strings.HasPrefix(g.name, u.folders[j].name+"/") {
					u.folders[j].children = true
				}
			}
		}
		b.byLogin[key] = int32(len(b.users))
		b.users = append(b.users, u)
	}
	return b, nil
}

func authenticationFailed() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Authentication failed."}
}

func authorizationFailed() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed, Text: "Authorization failed"}
}

// authenticate decides a login as Dovecot with a master user does. authzid
// is the SASL authorization identity ("" for LOGIN), authcid the
// authentication identity (the LOGIN user name).
//
// A master login is either an authzid different from authcid (authcid is
// then the master user) or an authcid "mailbox*master". Bad master
// credentials are AUTHENTICATIONFAILED; good ones for a mailbox that does
// not exist are AUTHORIZATIONFAILED. Without a master user, authcid must be
// a present mailbox with its own password, else AUTHENTICATIONFAILED.
func (b *backend) authenticate(authzid, authcid, password string) (*user, error) {
	target, login := authzid, authcid
	if target == "" || target == authcid {
		var ok bool
		if target, login, ok = strings.Cut(authcid, MasterSeparator); !ok {
			u := b.user(authcid)
			if u == nil || !equalSecret(password, u.password) {
				return nil, authenticationFailed()
			}
			return u, nil
		}
	}
	if b.master == "" || login != b.master || !equalSecret(password, b.masterPass) {
		return nil, authenticationFailed()
	}
	u := b.user(target)
	if u == nil {
		return nil, authorizationFailed()
	}
	return u, nil
}

func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// plainServer turns go-sasl's errors for a malformed PLAIN message into BAD,
// which imapserver would otherwise answer as a server bug.
type plainServer struct{ sasl.Server }

func (p plainServer) Next(resp []byte) ([]byte, bool, error) {
	challenge, done, err := p.Server.Next(resp)
	var ie *imap.Error
	if err != nil && !errors.As(err, &ie) {
		err = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Malformed AUTHENTICATE PLAIN response"}
	}
	return challenge, done, err
}
