// Package demo is the embedded default incident that `impact demo` scans: a
// deterministic synthetic inventory of mailboxes with a known impact each,
// and an in-process IMAP server (plaintext, loopback) holding exactly the
// mail that impact implies. It needs nothing but Go: no Dovecot, no files.
//
// The story: an engineer wiped the live mail storage at the cutoff instant.
// Some mailboxes were not re-created (login fails), many were re-created
// empty and have only mail from at/after the cutoff, the rest were on storage
// that survived. Every Mailbox records the impact a correct scan must find
// (Expected) and the exact number of messages whose INTERNALDATE is before
// and at/after the cutoff, so tests can check a scan end to end.
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

// MinMailboxes is the smallest incident NewIncident builds: below it the
// shares and the mixed multi-mailbox accounts cannot all be present.
const MinMailboxes = 20

// Outcome shares in percent of the mailboxes; ok takes the rest. See Shares.
const (
	ShareLoginFailed    = 10
	ShareMissingOldMail = 25
	ShareNoOldMail      = 5
)

// Folder names used by the generator. Non-ASCII names travel as modified
// UTF-7 on the wire (RFC 3501 5.1.3) unless the client enables UTF8=ACCEPT.
const (
	FolderInbox   = "INBOX"
	FolderSent    = "Sent"       // \Sent (RFC 6154)
	FolderDrafts  = "Entwürfe"   // \Drafts
	FolderTrash   = "Papierkorb" // \Trash
	FolderArchive = "Archiv"     // \Noselect parent: holds no messages
	FolderAudit   = "Archiv/Prüfung"
)

// HostileContact is the contact name of one mailbox: a spreadsheet formula
// that every report writer must neutralise.
const HostileContact = `=HYPERLINK("http://x","x")`

// Incident is a synthetic storage incident: the inventory billing would
// export plus the state of the mail server after the wipe.
type Incident struct {
	// Cutoff is the instant of the wipe, truncated to whole seconds because
	// INTERNALDATE has no finer resolution (RFC 9051 2.3.3).
	Cutoff    time.Time
	Mailboxes []Mailbox
	// MasterUser and MasterPassword log in to any present mailbox, as
	// Dovecot's master user does: LOGIN "mailbox*MasterUser" or AUTHENTICATE
	// PLAIN with the mailbox as authorization identity (RFC 4616).
	MasterUser     string
	MasterPassword string
}

// Mailbox is one mailbox of the incident. Entry.Password holds the mailbox's
// own password (for --auth password).
type Mailbox struct {
	Entry inventory.Entry
	// Expected is the impact a correct scan reports for this mailbox.
	Expected results.Impact
	// ExpectedBefore and ExpectedAfter count the messages of all folders
	// with INTERNALDATE < Cutoff and >= Cutoff.
	ExpectedBefore int
	ExpectedAfter  int
	// Folders in creation order, INBOX first; nil when Absent.
	Folders []Folder
	// Absent mailboxes do not exist on the server (not re-created): every
	// login fails.
	Absent bool
}

// Folder is one IMAP folder of a mailbox.
type Folder struct {
	Name string // UTF-8, "/" as hierarchy delimiter
	// Messages are the INTERNALDATEs in UID order (ascending), whole
	// seconds, in the server's zone (UTC+02:00).
	Messages []time.Time
	// NoSelect marks a parent that exists only as a level of the hierarchy:
	// LIST shows it with \Noselect, it holds no messages and cannot be
	// selected.
	NoSelect bool
	// UIDValidity is the folder's UIDVALIDITY: the Unix time the folder was
	// created, so re-created folders have a value at or after the cutoff.
	// 0 for a NoSelect folder.
	UIDValidity uint32
}

// Shares gives the number of mailboxes of each impact in an incident of n
// mailboxes (n below MinMailboxes counts as MinMailboxes): ShareLoginFailed,
// ShareMissingOldMail and ShareNoOldMail percent rounded to the nearest
// mailbox (no_old_mail at least 2), ok the rest. probe_error never occurs.
func Shares(n int) map[results.Impact]int {
	n = max(n, MinMailboxes)
	pct := func(p int) int { return (n*p + 50) / 100 }
	failed, missing, noOld := pct(ShareLoginFailed), pct(ShareMissingOldMail), max(2, pct(ShareNoOldMail))
	return map[results.Impact]int{
		results.ImpactLoginFailed:    failed,
		results.ImpactMissingOldMail: missing,
		results.ImpactNoOldMail:      noOld,
		results.ImpactOK:             n - failed - missing - noOld,
	}
}

// Counts returns how many mailboxes of the incident have each expected impact.
func (inc *Incident) Counts() map[results.Impact]int {
	c := make(map[results.Impact]int)
	for i := range inc.Mailboxes {
		c[inc.Mailboxes[i].Expected]++
	}
	return c
}

// Lookup returns the mailbox whose login is name (exact match), or nil.
func (inc *Incident) Lookup(name string) *Mailbox {
	for i := range inc.Mailboxes {
		if inc.Mailboxes[i].Entry.Mailbox() == name {
			return &inc.Mailboxes[i]
		}
	}
	return nil
}

// Accounts returns the account IDs in inventory order with their mailboxes'
// indexes in inc.Mailboxes.
func (inc *Incident) Accounts() (ids []string, members map[string][]int) {
	members = make(map[string][]int)
	for i := range inc.Mailboxes {
		id := inc.Mailboxes[i].Entry.AccountID()
		if _, ok := members[id]; !ok {
			ids = append(ids, id)
		}
		members[id] = append(members[id], i)
	}
	return ids, members
}

// NewIncident generates the incident of n mailboxes (at least MinMailboxes;
// smaller n is raised) for the cutoff, deterministically from seed: the same
// arguments give the same incident.
//
// The incident holds business accounts (one to eight mailboxes under one
// account ID on a customer domain such as mueller-bau.example; account 00420
// is the first) and residential accounts (one mailbox on isp.example or
// mail.isp.example). Four single-mailbox accounts have no customer type, so
// that only the product ("Business Mail Pro", "Home Basic") or the domain
// decides it. Impacts follow Shares; at least three multi-mailbox accounts
// mix impacts (00420: login_failed, missing_old_mail and ok).
//
// Impact rules the data follows:
//   - login_failed: Absent.
//   - missing_old_mail: present, no message before the cutoff, created before
//     the cutoff with access imap or webmail. One has no message at all, one
//     only a message exactly at the cutoff.
//   - no_old_mail: present, no message before the cutoff, and either access
//     pop3 or created after the cutoff.
//   - ok: messages before and at/after the cutoff, including one mailbox with
//     messages one second before and exactly at the cutoff, one whose only
//     old mail is in Archiv/Prüfung under a \Noselect parent, and one whose
//     only old message is on the cutoff's own day (a date-only SEARCH BEFORE
//     misses it).
func NewIncident(n int, cutoff time.Time, seed int64) *Incident {
	n = max(n, MinMailboxes)
	cutoff = cutoff.Truncate(time.Second)
	g := &generator{
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x696d70616374)),
		seed:    seed,
		cutoff:  cutoff,
		zone:    serverZone(),
		ordinal: make(map[results.Impact]int),
	}
	plans := g.planAccounts(n)
	g.assignOutcomes(plans, n)
	g.describeAccounts(plans)

	inc := &Incident{
		Cutoff:         cutoff,
		Mailboxes:      make([]Mailbox, 0, n),
		MasterUser:     "demo-master",
		MasterPassword: derivePassword(seed, "master user"),
	}
	// The hostile contact goes to a residential mailbox, to one that needs a
	// call (missing_old_mail) when there is one, so it reaches every report.
	hostile := -1
	for ai, p := range plans {
		for k, outcome := range p.outcomes {
			mb := g.mailbox(p, ai, k, outcome, len(inc.Mailboxes))
			if !p.business {
				switch {
				case hostile < 0,
					outcome == results.ImpactMissingOldMail && inc.Mailboxes[hostile].Expected != outcome:
					hostile = len(inc.Mailboxes)
				}
			}
			inc.Mailboxes = append(inc.Mailboxes, mb)
		}
	}
	f := inc.Mailboxes[hostile].Entry.Fields()
	f.ContactName = HostileContact
	inc.Mailboxes[hostile].Entry = inventory.NewEntry(f)
	return inc
}

// serverZone is the zone the demo server shows INTERNALDATEs in, like a
// server in Central Europe in summer: a day there starts at 22:00 UTC, so
// date-only comparisons in UTC and in the server's zone disagree.
func serverZone() *time.Location { return time.FixedZone("CEST", 2*60*60) }

// derivePassword makes a stable password from the seed and a label, so the
// same demo can be scanned again with the same credentials.
func derivePassword(seed int64, label string) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(seed, 10) + "\x00" + label))
	return "demo-" + hex.EncodeToString(sum[:8])
}

type generator struct {
	rng    *rand.Rand
	seed   int64
	cutoff time.Time
	zone   *time.Location
	// ordinal counts the mailboxes generated so far per impact; the first
	// few of each impact carry the hand-made edge cases.
	ordinal map[results.Impact]int
}

type accountPlan struct {
	business bool
	outcomes []results.Impact // one per mailbox; fixed ones set by planAccounts
	fixed    bool

	id, segment, product, domain string
	first, last, phone           string
}

// planAccounts lays out the accounts: three business accounts whose mixed
// impacts are fixed (the first becomes 00420), more business accounts of two
// to eight mailboxes up to about 30% of the mailboxes, then single-mailbox
// accounts, a fifth of them business.
func (g *generator) planAccounts(n int) []*accountPlan {
	impacts := func(v ...results.Impact) []results.Impact { return v }
	const (
		F  = results.ImpactLoginFailed
		M  = results.ImpactMissingOldMail
		N  = results.ImpactNoOldMail
		OK = results.ImpactOK
	)
	plans := []*accountPlan{
		{business: true, fixed: true, outcomes: impacts(F, M, OK)},
		{business: true, fixed: true, outcomes: impacts(F, OK, OK, N)},
		{business: true, fixed: true, outcomes: impacts(M, OK)},
	}
	total := 9
	for budget := max(total, n*3/10); ; {
		size := 2 + g.rng.IntN(7)
		if total+size > budget {
			break
		}
		plans = append(plans, &accountPlan{business: true, outcomes: make([]results.Impact, size)})
		total += size
	}
	rest := n - total
	bizSingles := max(2, rest/5)
	for i := 0; i < rest; i++ {
		plans = append(plans, &accountPlan{business: i < bizSingles, outcomes: make([]results.Impact, 1)})
	}
	// The first plan stays first: it is account 00420.
	g.rng.Shuffle(len(plans)-1, func(i, j int) { plans[i+1], plans[j+1] = plans[j+1], plans[i+1] })
	return plans
}

// assignOutcomes deals the impacts Shares asks for, less the fixed ones, at
// random to the other mailboxes.
func (g *generator) assignOutcomes(plans []*accountPlan, n int) {
	want := Shares(n)
	for _, p := range plans {
		if p.fixed {
			for _, o := range p.outcomes {
				want[o]--
			}
		}
	}
	var pool []results.Impact
	for _, o := range results.Impacts {
		for range want[o] {
			pool = append(pool, o)
		}
	}
	g.rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	for _, p := range plans {
		if p.fixed {
			continue
		}
		for k := range p.outcomes {
			p.outcomes[k], pool = pool[0], pool[1:]
		}
	}
}

// describeAccounts gives each account its ID, domain, type, product and
// contact; the first two single business and residential accounts lose
// their customer type.
func (g *generator) describeAccounts(plans []*accountPlan) {
	var business, bizSingles, residential int
	for i, p := range plans {
		p.id = fmt.Sprintf("%05d", 420+7*i)
		p.first = firstNames[g.rng.IntN(len(firstNames))]
		p.last = lastNames[g.rng.IntN(len(lastNames))]
		p.phone = g.phone()
		if p.business {
			slug := companySlugs[business%len(companySlugs)]
			if business >= len(companySlugs) {
				slug += "-" + strconv.Itoa(business/len(companySlugs)+1)
			}
			business++
			p.domain = slug + ".example"
			p.segment = "Business"
			p.product = businessProducts[g.rng.IntN(len(businessProducts))]
			if i == 0 {
				p.first, p.last, p.product = "Jürgen", "Müller", "Business Mail Pro"
			}
			if len(p.outcomes) > 1 {
				continue
			}
			// Two single-mailbox business accounts without a customer type:
			// one decided by product, one only by its customer domain.
			switch bizSingles {
			case 0:
				p.segment, p.product = "", "Business Mail Pro"
			case 1:
				p.segment, p.product = "", ""
			}
			bizSingles++
			continue
		}
		p.domain = ispDomains[g.rng.IntN(len(ispDomains))]
		p.segment = "Residential"
		p.product = homeProducts[g.rng.IntN(len(homeProducts))]
		switch residential {
		case 0:
			p.segment, p.product = "", "Home Basic"
		case 1:
			p.segment, p.product, p.domain = "", "", ispDomains[0]
		}
		residential++
	}
}

func (g *generator) phone() string {
	code := areaCodes[g.rng.IntN(len(areaCodes))]
	num := 100000 + g.rng.IntN(9900000)
	switch g.rng.IntN(3) {
	case 0:
		return fmt.Sprintf("+49 %d %d", code, num)
	case 1:
		return fmt.Sprintf("0%d %d", code, num)
	default:
		return fmt.Sprintf("0%d/%d", code, num)
	}
}

// mailbox builds the k-th mailbox of account plan p (the ai-th account);
// index is its position in the incident.
func (g *generator) mailbox(p *accountPlan, ai, k int, outcome results.Impact, index int) Mailbox {
	ord := g.ordinal[outcome]
	g.ordinal[outcome]++

	var local string
	switch {
	case !p.business:
		local = asciiFold(p.first) + "." + asciiFold(p.last) + strconv.Itoa(ai)
	case k == 0:
		local = asciiFold(p.first) + "." + asciiFold(p.last)
	default:
		local = businessLocalParts[(k-1)%len(businessLocalParts)]
	}
	name := local + "@" + p.domain

	access := g.pick([]string{"imap", "webmail"}, []int{65, 35})
	createdAfter := false
	switch outcome {
	case results.ImpactLoginFailed:
		access = g.pick([]string{"imap", "webmail", "pop3"}, []int{50, 30, 20})
	case results.ImpactNoOldMail:
		// Alternate the two reasons there is no old mail to miss.
		if ord%2 == 0 {
			access = "pop3"
		} else {
			createdAfter = true
		}
	}
	cutoffDay := utcDate(g.cutoff)
	created := cutoffDay.AddDate(0, 0, -(2 + g.rng.IntN(3650)))
	if createdAfter {
		created = utcDate(g.cutoff.Add(48 * time.Hour))
	}

	fields := inventory.Fields{
		Mailbox:      name,
		AccountID:    p.id,
		CustomerType: p.segment,
		Product:      p.product,
		Access:       access,
		Created:      created,
		ContactName:  p.first + " " + p.last,
		ContactPhone: p.phone,
		Password:     derivePassword(g.seed, name),
		// The line of the row in the CSV WriteInventory writes.
		Source: "demo:" + strconv.Itoa(index+2),
	}
	mb := Mailbox{Expected: outcome, Entry: inventory.NewEntry(fields)}
	switch outcome {
	case results.ImpactLoginFailed:
		mb.Absent = true
	case results.ImpactOK:
		mb.Folders = g.okFolders(ord, created)
	case results.ImpactMissingOldMail:
		mb.Folders = g.recreatedFolders(ord, index, g.cutoff, true)
	case results.ImpactNoOldMail:
		from := g.cutoff
		if createdAfter {
			from = created
		}
		// ord+2: the empty and at-cutoff edge cases belong to missing_old_mail.
		mb.Folders = g.recreatedFolders(ord+2, index, from, access != "pop3")
	}
	for _, f := range mb.Folders {
		for _, t := range f.Messages {
			if t.Before(g.cutoff) {
				mb.ExpectedBefore++
			} else {
				mb.ExpectedAfter++
			}
		}
	}
	return mb
}

// pick chooses one of values with the given weights.
func (g *generator) pick(values []string, weights []int) string {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := g.rng.IntN(total)
	for i, w := range weights {
		if r -= w; r < 0 {
			return values[i]
		}
	}
	return values[0]
}

func utcDate(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// oldTime is a random instant at least an hour before the cutoff, after the
// account was opened and within the last three years.
func (g *generator) oldTime(created time.Time) time.Time {
	hi := g.cutoff.Add(-time.Hour)
	lo := g.cutoff.AddDate(-3, 0, 0)
	if opened := created.Add(24 * time.Hour); opened.After(lo) {
		lo = opened
	}
	if !lo.Before(hi) {
		lo = hi.Add(-24 * time.Hour)
	}
	return g.between(lo, hi)
}

// newTime is a random instant in the 36 hours after from (plus a minute).
func (g *generator) newTime(from time.Time) time.Time {
	return g.between(from.Add(time.Minute), from.Add(36*time.Hour))
}

func (g *generator) between(lo, hi time.Time) time.Time {
	secs := int64(hi.Sub(lo) / time.Second)
	return lo.Add(time.Duration(g.rng.Int64N(secs+1)) * time.Second).In(g.zone)
}

func (g *generator) times(n int, f func() time.Time) []time.Time {
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = f()
	}
	return ts
}

// okFolders is the folder tree of a mailbox that kept its mail. The first
// four carry the edge cases listed on NewIncident.
func (g *generator) okFolders(ord int, created time.Time) []Folder {
	c := g.cutoff
	old := func() time.Time { return g.oldTime(created) }
	nw := func() time.Time { return g.newTime(c) }
	var fs []Folder
	add := func(name string, ts ...time.Time) {
		fs = append(fs, Folder{Name: name, Messages: ts})
	}
	archive := func(ts ...time.Time) {
		fs = append(fs, Folder{Name: FolderArchive, NoSelect: true})
		add(FolderAudit, ts...)
	}
	switch ord {
	case 0:
		add(FolderInbox, c.Add(-time.Second).In(g.zone), c.In(g.zone))
	case 1:
		add(FolderInbox, old(), old(), c.Add(time.Second).In(g.zone), nw())
		add(FolderSent, old())
		add(FolderDrafts, old())
		add(FolderTrash)
		archive(old(), old())
	case 2:
		add(FolderInbox, nw(), nw())
		archive(old())
	case 3:
		y, m, d := c.In(g.zone).Date()
		early := time.Date(y, m, d, 0, 0, 1, 0, g.zone)
		if !early.Before(c) {
			early = c.Add(-time.Minute).In(g.zone)
		}
		add(FolderInbox, early, c.Add(24*time.Hour).In(g.zone))
	default:
		inbox := append(g.times(1+g.rng.IntN(3), old), g.times(g.rng.IntN(3), nw)...)
		if len(inbox) == 0 || !inbox[len(inbox)-1].After(c) {
			inbox = append(inbox, nw())
		}
		add(FolderInbox, inbox...)
		if g.rng.IntN(100) < 50 {
			add(FolderSent, g.times(1+g.rng.IntN(2), old)...)
		}
		if g.rng.IntN(100) < 15 {
			add(FolderDrafts, old())
		}
		if g.rng.IntN(100) < 15 {
			add(FolderTrash)
		}
		if g.rng.IntN(100) < 10 {
			archive(g.times(1+g.rng.IntN(2), old)...)
		}
	}
	for i := range fs {
		slices.SortFunc(fs[i].Messages, func(a, b time.Time) int { return a.Compare(b) })
		if !fs[i].NoSelect {
			fs[i].UIDValidity = uint32(created.Unix()) + uint32(i)
		}
	}
	return fs
}

// recreatedFolders is the folder tree of a mailbox re-created after the
// wipe (or opened after the cutoff): only mail from `from` on. Ordinal 0 is
// an empty INBOX, ordinal 1 holds one message exactly at the cutoff. A mail
// client (imap, webmail) may have re-created Sent and Entwürfe; a POP3
// client does not.
func (g *generator) recreatedFolders(ord, index int, from time.Time, client bool) []Folder {
	nw := func() time.Time { return g.newTime(from) }
	var inbox []time.Time
	switch ord {
	case 0:
	case 1:
		inbox = []time.Time{g.cutoff.In(g.zone)}
	default:
		inbox = g.times(g.rng.IntN(4), nw)
	}
	fs := []Folder{{Name: FolderInbox, Messages: inbox}}
	if client && g.rng.IntN(100) < 30 {
		fs = append(fs, Folder{Name: FolderSent, Messages: g.times(g.rng.IntN(2), nw)})
	}
	if client && g.rng.IntN(100) < 20 {
		fs = append(fs, Folder{Name: FolderDrafts})
	}
	// Re-created some minutes after the wipe (Dovecot takes time() as
	// UIDVALIDITY), or when the account was opened after the cutoff.
	base := uint32(from.Unix()) + 300 + uint32(index%3600)
	for i := range fs {
		slices.SortFunc(fs[i].Messages, func(a, b time.Time) int { return a.Compare(b) })
		fs[i].UIDValidity = base + uint32(i)
	}
	return fs
}

// specialUse is the RFC 6154 attribute of the generator's folder names.
func specialUse(name string) string {
	switch name {
	case FolderSent:
		return `\Sent`
	case FolderDrafts:
		return `\Drafts`
	case FolderTrash:
		return `\Trash`
	}
	return ""
}

// isInbox reports whether name is INBOX, which is case-insensitive
// (RFC 9051 5.1).
func isInbox(name string) bool { return strings.EqualFold(name, FolderInbox) }
