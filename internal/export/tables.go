package export

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/playbook"
	"github.com/impact-ops/impact/internal/results"
)

// kind is what a cell holds; it decides the cell's type and style in the
// workbook and its text in CSV.
type kind uint8

const (
	emptyCell  kind = iota // no value: an unknown count, a missing date
	textCell               // a string, never a formula
	numberCell             // an integer count or duration
	timeCell               // an instant, shown in the report's time zone
	dayCell                // a calendar day (no time of day)
)

// value is one cell of a table row. The zero value is an empty cell.
type value struct {
	kind kind
	s    string
	n    int64
	t    time.Time
	// fill, when set, paints the cell in that impact's colour.
	fill results.Impact
}

func text(s string) value {
	if s == "" {
		return value{}
	}
	return value{kind: textCell, s: s}
}

func number(n int64) value { return value{kind: numberCell, n: n} }

func instant(t time.Time) value {
	if t.IsZero() {
		return value{}
	}
	return value{kind: timeCell, t: t}
}

// day is a YYYY-MM-DD date from the inventory; anything else stays text.
func day(s string) value {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return value{kind: dayCell, t: d}
	}
	return text(s)
}

func yesNo(b bool) value {
	if b {
		return text("yes")
	}
	return text("no")
}

func impactCell(i results.Impact) value {
	v := text(string(i))
	v.fill = fillImpact(i)
	return v
}

// rankCell is an account's rank; an account that is not impacted has none.
func rankCell(rank int32) value {
	if rank == 0 {
		return value{}
	}
	return number(int64(rank))
}

// fillImpact maps a value outside the vocabulary to probe_error, as
// Impact.Severity does: unknown means "needs a look", not "fine".
func fillImpact(i results.Impact) results.Impact {
	if slices.Contains(results.Impacts, i) {
		return i
	}
	return results.ImpactProbeError
}

// column describes one column of a table.
type column struct {
	header string
	kind   kind // what the column holds; decides the header's alignment
	// maxWidth caps the estimated width (in characters); 0 means
	// defaultMaxWidth.
	maxWidth float64
	// private marks customer contact data (names, phones) and server
	// marks the server's own words (login text, errors): a redacted copy
	// drops both.
	private, server bool
	// entry marks a column the agent fills in: it gets a fixed width and
	// its kind's style for the whole column, so typed values look right.
	entry bool
	// choices, when set, restricts the column to a drop-down list.
	choices []string
}

// table is a sheet of one header row and rows of values, produced by index
// so the rows can be visited more than once (width estimate, then write)
// and rendered as xlsx or CSV without being held in memory.
type table struct {
	name    string // sheet name; continuation sheets add " (2)", ...
	file    string // CSV file name
	columns []column
	rows    int
	// row fills out (len(columns) values) with row i, 0 <= i < rows.
	row func(i int, out []value)
}

// outcomes are the choices of a queue sheet's Outcome column; every row
// starts as the first.
var outcomes = []string{"Not called", "No answer", "Left message", "Resolved", "Escalated"}

// Sheet names. Queue sheets are "Queue 1" ... "Queue N".
const (
	prioritySheet    = "Priority"
	multiSheet       = "Multi-mailbox"
	lookupSheet      = "Lookup"
	mailboxesSheet   = "Mailboxes"
	probeErrorsSheet = "Probe errors"
)

// segment is a sheet of the impacted accounts of one customer type.
type segment struct {
	customerType, sheet string
}

func segments() [3]segment {
	return [3]segment{
		{results.TypeBusiness, "Business"},
		{results.TypeResidential, "Residential"},
		{results.TypeUnknown, "Unknown type"},
	}
}

func queueSheet(q int) string { return "Queue " + strconv.Itoa(q+1) }

// view is the Report prepared for rendering: derived orderings and
// selections computed once.
type view struct {
	r    *Report
	rec  *Records
	loc  *time.Location
	opts Options
	pb   *playbook.Playbook
	// bySegment lists, per segments() entry, the impacted accounts of that
	// type (indexes into rec.accounts) in rank order.
	bySegment [3][]int32
	// inSegment is each impacted account's 1-based rank within its
	// segment sheet, indexed by rank-1.
	inSegment []int32
	// multi lists the accounts with two or more mailboxes, in account order.
	multi []int32
	// queues lists each queue's accounts in rank order; queueLoad is the
	// number of affected mailboxes in each.
	queues    [][]int32
	queueLoad []int
}

func newView(r *Report, opts Options) *view {
	rec := r.Records
	if rec == nil {
		rec = NewBuilder().Records()
	}
	v := &view{r: r, rec: rec, loc: r.Location, opts: opts, pb: opts.Playbook}
	if v.loc == nil {
		v.loc = time.UTC
	}
	if v.pb == nil {
		v.pb = playbook.Default()
	}
	v.inSegment = make([]int32, rec.impacted)
	for i := range rec.accounts {
		a := &rec.accounts[i]
		if a.rank > 0 {
			s := segmentOf(a.customerType)
			v.bySegment[s] = append(v.bySegment[s], int32(i))
			v.inSegment[a.rank-1] = int32(len(v.bySegment[s]))
		}
		if a.multi {
			v.multi = append(v.multi, int32(i))
		}
	}
	v.queues, v.queueLoad = assignQueues(rec, opts.Queues)
	return v
}

func segmentOf(customerType string) int {
	for i, s := range segments() {
		if s.customerType == customerType {
			return i
		}
	}
	return 2 // unknown
}

// assignQueues splits the impacted accounts over n queues: in rank order,
// each account goes to the queue with the fewest affected mailboxes so far
// (the lowest-numbered on a tie). Every queue thus lists its accounts in
// rank order, business accounts first, and the loads differ by at most the
// largest single account's affected mailboxes (greedy list scheduling: the
// fullest queue was the emptiest when it got its last account).
func assignQueues(rec *Records, n int) ([][]int32, []int) {
	if n <= 0 {
		return nil, nil
	}
	queues := make([][]int32, n)
	load := make([]int, n)
	for i := range rec.impacted {
		q := 0
		for k := 1; k < n; k++ {
			if load[k] < load[q] {
				q = k
			}
		}
		queues[q] = append(queues[q], int32(i))
		load[q] += rec.accounts[i].affected()
	}
	return queues, load
}

// tables lists the streamed sheets in workbook order, after Summary.
func (v *view) tables() []table {
	ts := []table{v.accountTable(prioritySheet, nil)}
	for s, seg := range segments() {
		ts = append(ts, v.accountTable(seg.sheet, v.bySegment[s]))
	}
	ts = append(ts, v.multiTable(), v.lookupTable())
	for q := range v.queues {
		ts = append(ts, v.queueTable(q))
	}
	ts = append(ts, v.mailboxTable(), v.probeErrorTable())
	if v.r.Progress != nil {
		ts = append(ts, v.progressTable())
	}
	if v.r.Baseline != nil {
		ts = append(ts, v.baselineGapsTable())
	}
	if v.opts.Redact {
		for i := range ts {
			ts[i] = redacted(ts[i])
		}
	}
	return ts
}

// redacted drops t's private and server-text columns.
func redacted(t table) table {
	var keep []int
	var cols []column
	for c, col := range t.columns {
		if !col.private && !col.server {
			keep = append(keep, c)
			cols = append(cols, col)
		}
	}
	if len(keep) == len(t.columns) {
		return t
	}
	full := make([]value, len(t.columns))
	inner := t.row
	t.columns = cols
	t.row = func(i int, out []value) {
		inner(i, full)
		for j, c := range keep {
			out[j] = full[c]
		}
	}
	return t
}

// fileName is the CSV file of a sheet: "Unknown type" -> "unknown-type.csv".
func fileName(sheet string) string {
	return strings.ReplaceAll(strings.ToLower(sheet), " ", "-") + ".csv"
}

// accountColumns are the columns of Priority and the segment sheets; a
// segment sheet ranks within itself and adds the overall rank.
func accountColumns(segmented bool) []column {
	cols := []column{{header: "Rank", kind: numberCell}}
	if segmented {
		cols = append(cols, column{header: "Overall rank", kind: numberCell})
	}
	return append(cols,
		column{header: "Account", kind: textCell},
		column{header: "Customer type", kind: textCell},
		column{header: "Tier", kind: textCell},
		column{header: "Multi-mailbox", kind: textCell},
		column{header: "Mailboxes", kind: numberCell},
		column{header: "Login failed", kind: numberCell},
		column{header: "Missing old mail", kind: numberCell},
		column{header: "Worst impact", kind: textCell},
		column{header: "Recommended action", kind: textCell, maxWidth: 60},
		column{header: "Contact", kind: textCell, private: true},
		column{header: "Phone", kind: textCell, private: true},
		column{header: "Mailboxes affected", kind: textCell, maxWidth: 80},
	)
}

// accountTable is Priority (accounts nil: every impacted account) or a
// segment sheet (accounts: that segment's impacted accounts).
func (v *view) accountTable(name string, accounts []int32) table {
	segmented := name != prioritySheet
	rows := v.rec.impacted
	if segmented {
		rows = len(accounts)
	}
	var m mrow
	return table{
		name:    name,
		file:    fileName(name),
		columns: accountColumns(segmented),
		rows:    rows,
		row: func(i int, out []value) {
			idx := int32(i)
			if segmented {
				idx = accounts[i]
			}
			a := &v.rec.accounts[idx]
			c := 0
			out[c] = rankCell(a.rank)
			c++
			if segmented {
				out[0] = number(int64(i + 1))
				out[c] = rankCell(a.rank)
				c++
			}
			contact, phone := v.contacts(a, &m)
			action, _ := v.accountPlaybook(a)
			for _, val := range []value{
				text(v.rec.id(a)),
				text(a.customerType),
				text(a.tier.String()),
				yesNo(a.multi),
				number(int64(a.n)),
				number(int64(a.loginFailed)),
				number(int64(a.missingOld)),
				impactCell(v.rec.impact(a)),
				text(action),
				text(contact),
				text(phone),
				text(v.affected(a, &m)),
			} {
				out[c] = val
				c++
			}
		},
	}
}

func (v *view) multiTable() table {
	var m mrow
	return table{
		name: multiSheet,
		file: fileName(multiSheet),
		columns: []column{
			{header: "Rank", kind: numberCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Mailboxes", kind: numberCell},
			{header: "Affected", kind: numberCell},
			{header: "Worst impact", kind: textCell},
			{header: "Contact", kind: textCell, private: true},
			{header: "Phone", kind: textCell, private: true},
			{header: "Mailboxes and impacts", kind: textCell, maxWidth: 100},
		},
		rows: len(v.multi),
		row: func(i int, out []value) {
			a := &v.rec.accounts[v.multi[i]]
			contact, phone := v.contacts(a, &m)
			out[0] = rankCell(a.rank)
			out[1] = text(v.rec.id(a))
			out[2] = text(a.customerType)
			out[3] = number(int64(a.n))
			out[4] = number(int64(a.affected()))
			out[5] = impactCell(v.rec.impact(a))
			out[6] = text(contact)
			out[7] = text(phone)
			out[8] = text(v.mailboxImpacts(a, &m))
		},
	}
}

// lookupTable is every mailbox for inbound calls: what the agent searches
// for (mailbox, account, contact) and what to say.
func (v *view) lookupTable() table {
	var m mrow
	return table{
		name: lookupSheet,
		file: fileName(lookupSheet),
		columns: []column{
			{header: "Mailbox", kind: textCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Impact", kind: textCell},
			{header: "Evidence", kind: textCell},
			{header: "Account rank", kind: numberCell},
			{header: "Contact", kind: textCell, private: true},
			{header: "Phone", kind: textCell, private: true},
			{header: "Recommended action", kind: textCell, maxWidth: 60},
			{header: "What to tell the customer", kind: textCell, maxWidth: 80},
		},
		rows: len(v.rec.mail),
		row: func(i int, out []value) {
			v.rec.s.decode(v.rec.mail[i], &m)
			a := &v.rec.accounts[v.rec.acctOf[i]]
			e := v.pb.For(m.Impact, a.customerType)
			out[0] = text(m.Mailbox)
			out[1] = text(m.AccountID)
			out[2] = text(a.customerType)
			out[3] = impactCell(m.Impact)
			out[4] = text(v.evidence(&m))
			out[5] = rankCell(a.rank)
			out[6] = text(m.Contact)
			out[7] = text(m.Phone)
			out[8] = text(e.Action)
			out[9] = text(e.Script)
		},
	}
}

func (v *view) queueTable(q int) table {
	name := queueSheet(q)
	accounts := v.queues[q]
	var m mrow
	return table{
		name: name,
		file: fileName(name),
		columns: []column{
			{header: "Rank", kind: numberCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Affected", kind: numberCell},
			{header: "Worst impact", kind: textCell},
			{header: "Mailboxes affected", kind: textCell, maxWidth: 60},
			{header: "Contact", kind: textCell, private: true},
			{header: "Phone", kind: textCell, private: true},
			{header: "Recommended action", kind: textCell, maxWidth: 60},
			{header: "Customer script", kind: textCell, maxWidth: 80},
			{header: "Agent", kind: textCell, entry: true, maxWidth: 16},
			{header: "Outcome", kind: textCell, entry: true, maxWidth: 16, choices: outcomes},
			{header: "Called at", kind: timeCell, entry: true, maxWidth: timeWidth + 2},
			{header: "Notes", kind: textCell, entry: true, maxWidth: 40},
		},
		rows: len(accounts),
		row: func(i int, out []value) {
			a := &v.rec.accounts[accounts[i]]
			contact, phone := v.contacts(a, &m)
			action, script := v.accountPlaybook(a)
			out[0] = rankCell(a.rank)
			out[1] = text(v.rec.id(a))
			out[2] = text(a.customerType)
			out[3] = number(int64(a.affected()))
			out[4] = impactCell(v.rec.impact(a))
			out[5] = text(v.affected(a, &m))
			out[6] = text(contact)
			out[7] = text(phone)
			out[8] = text(action)
			out[9] = text(script)
			out[10] = value{}
			out[11] = text(outcomes[0])
			out[12] = value{}
			out[13] = value{}
		},
	}
}

func (v *view) mailboxTable() table {
	var m mrow
	return table{
		name: mailboxesSheet,
		file: fileName(mailboxesSheet),
		columns: []column{
			{header: "Mailbox", kind: textCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Multi-mailbox", kind: textCell},
			{header: "Impact", kind: textCell},
			{header: "Evidence", kind: textCell},
			{header: "Login outcome", kind: textCell},
			{header: "Response code", kind: textCell},
			{header: "Server text", kind: textCell, server: true},
			{header: "Before cutoff", kind: numberCell},
			{header: "After cutoff", kind: numberCell},
			{header: "Oldest", kind: timeCell},
			{header: "Newest", kind: timeCell},
			{header: "Folders", kind: numberCell},
			{header: "Folders not countable", kind: textCell, server: true},
			{header: "Product", kind: textCell},
			{header: "Created", kind: dayCell},
			{header: "Contact", kind: textCell, private: true},
			{header: "Phone", kind: textCell, private: true},
			{header: "Error", kind: textCell, server: true},
			{header: "Probed at", kind: timeCell},
			{header: "Duration ms", kind: numberCell},
			{header: "Before cutoff by Date header", kind: numberCell},
			{header: "Date mismatch", kind: textCell},
			{header: "Counted by", kind: textCell},
			{header: "Baseline", kind: textCell},
			{header: "Baseline messages", kind: numberCell},
			{header: "Missing", kind: numberCell},
			{header: "Missing %", kind: numberCell},
			{header: "Folders short", kind: textCell},
			{header: "Recreated folders", kind: textCell},
			{header: "Progress", kind: textCell},
		},
		rows: len(v.rec.mail),
		row: func(i int, out []value) {
			v.rec.s.decode(v.rec.mail[i], &m)
			a := &v.rec.accounts[v.rec.acctOf[i]]
			out[0] = text(m.Mailbox)
			out[1] = text(m.AccountID)
			out[2] = text(m.CustomerType)
			out[3] = yesNo(a.multi)
			out[4] = impactCell(m.Impact)
			out[5] = text(v.evidence(&m))
			out[6] = text(m.Outcome)
			out[7] = text(m.Code)
			out[8] = text(m.ServerText)
			out[9], out[10] = value{}, value{}
			if m.HasBefore {
				out[9] = number(m.Before)
			}
			if m.HasAfter {
				out[10] = number(m.After)
			}
			out[11] = instant(m.Oldest)
			out[12] = instant(m.Newest)
			// A mailbox that was never opened has no folder list: unknown.
			out[13] = value{}
			if m.Folders >= 0 {
				out[13] = number(int64(m.Folders))
			}
			out[14] = text(m.Uncountable)
			out[15] = text(m.Product)
			out[16] = day(m.Created)
			out[17] = text(m.Contact)
			out[18] = text(m.Phone)
			out[19] = text(m.Error)
			out[20] = instant(m.ProbedAt)
			out[21] = number(m.DurationMS)
			out[22] = value{}
			if m.HasSent {
				out[22] = number(m.SentBefore)
			}
			out[23] = value{}
			if m.DateMismatch {
				out[23] = text("yes")
			}
			out[24] = text(m.DateBasis)
			out[25] = text(m.BaselineSource)
			out[26], out[27], out[28] = value{}, value{}, value{}
			if m.BaselineSource != "" {
				out[26] = number(m.BaselineMsgs)
				if fillImpact(m.Impact) != results.ImpactProbeError { // unknown when the probe did not finish
					out[27] = number(m.Missing)
					out[28] = number((m.SharePermille + 5) / 10)
				}
			}
			out[29] = text(m.FoldersShort)
			out[30] = text(m.Recreated)
			out[31] = text(m.Progress)
		},
	}
}

func (v *view) probeErrorTable() table {
	var m mrow
	return table{
		name: probeErrorsSheet,
		file: fileName(probeErrorsSheet),
		columns: []column{
			{header: "Mailbox", kind: textCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Error", kind: textCell, server: true},
			{header: "Attempts", kind: numberCell},
			{header: "Earlier failures", kind: textCell, server: true},
			{header: "Probed at", kind: timeCell},
		},
		rows: len(v.rec.probeErrors),
		row: func(i int, out []value) {
			v.rec.s.decode(v.rec.mail[v.rec.probeErrors[i]], &m)
			out[0] = text(m.Mailbox)
			out[1] = text(m.AccountID)
			out[2] = text(m.CustomerType)
			out[3] = text(m.Error)
			out[3].fill = results.ImpactProbeError
			out[4] = number(int64(m.NAttempts + 1))
			out[5] = text(m.Attempts)
			out[6] = instant(m.ProbedAt)
		},
	}
}

// redactedText replaces the server's words quoted in evidence.
const redactedText = "[server text removed]"

// evidence is m's evidence; a redacted copy removes any server text or
// error it quotes (classify quotes the login refusal and the probe error).
func (v *view) evidence(m *mrow) string {
	ev := m.Evidence
	if !v.opts.Redact {
		return ev
	}
	for _, s := range []string{m.ServerText, m.Error} {
		if s != "" {
			ev = strings.ReplaceAll(ev, s, redactedText)
		}
	}
	return ev
}

// accountPlaybook is the action and script for an impacted account: the
// entry of each impact needing action among its mailboxes, worst first,
// each labelled when there are two.
func (v *view) accountPlaybook(a *account) (action, script string) {
	var es []playbook.Entry
	var labels []results.Impact
	for _, im := range []results.Impact{results.ImpactLoginFailed, results.ImpactMissingOldMail} {
		n := a.loginFailed
		if im == results.ImpactMissingOldMail {
			n = a.missingOld
		}
		if n > 0 {
			es = append(es, v.pb.For(im, a.customerType))
			labels = append(labels, im)
		}
	}
	switch len(es) {
	case 0:
		e := v.pb.For(v.rec.impact(a), a.customerType)
		return e.Action, e.Script
	case 1:
		return es[0].Action, es[0].Script
	}
	join := func(f func(playbook.Entry) string) string {
		if f(es[0]) == f(es[1]) {
			return f(es[0])
		}
		var b strings.Builder
		for i, e := range es {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("[" + string(labels[i]) + "] " + f(e))
		}
		return b.String()
	}
	return join(func(e playbook.Entry) string { return e.Action }), join(func(e playbook.Entry) string { return e.Script })
}

// maxListed bounds the distinct contacts listed for one account; a
// business account with hundreds of mailboxes should not fill the cell.
const maxListed = 5

// contacts joins the distinct non-empty contact names and phones of a's
// mailboxes, in mailbox order, with "; ", listing at most maxListed of each
// and counting the rest. m is scratch space.
func (v *view) contacts(a *account, m *mrow) (names, phones string) {
	var ns, ps listing
	for _, i := range v.rec.mailboxesOf(a) {
		v.rec.s.decode(v.rec.mail[i], m)
		ns.add(m.Contact)
		ps.add(m.Phone)
	}
	return ns.String(), ps.String()
}

type listing struct {
	seen []string
	more int
}

func (l *listing) add(s string) {
	if s == "" || slices.Contains(l.seen, s) {
		return
	}
	if len(l.seen) == maxListed {
		l.more++
		return
	}
	l.seen = append(l.seen, s)
}

func (l *listing) String() string {
	out := strings.Join(l.seen, "; ")
	if l.more > 0 {
		out += "; (+" + strconv.Itoa(l.more) + " more)"
	}
	return out
}

// maxListChars keeps a joined list under the 32,767 characters a cell holds
// (excelize would cut it silently), leaving room for the "(+N more)" note.
const maxListChars = 32_000

// affected joins a's mailboxes that need action (login_failed,
// missing_old_mail) with ", ". A list too long for one cell ends with
// "(+N more; see Mailboxes)".
func (v *view) affected(a *account, m *mrow) string {
	var l cappedList
	for _, i := range v.rec.mailboxesOf(a) {
		v.rec.s.decode(v.rec.mail[i], m)
		if m.Impact.Impacted() {
			l.add(", ", m.Mailbox)
		}
	}
	return l.String(", ")
}

// mailboxImpacts lists every mailbox of a with its impact:
// "a@x: login_failed; b@x: ok".
func (v *view) mailboxImpacts(a *account, m *mrow) string {
	var l cappedList
	for _, i := range v.rec.mailboxesOf(a) {
		v.rec.s.decode(v.rec.mail[i], m)
		l.add("; ", m.Mailbox, ": ", string(m.Impact))
	}
	return l.String("; ")
}

// cappedList joins items up to maxListChars and counts the rest.
type cappedList struct {
	b    strings.Builder
	more int
}

func (l *cappedList) add(sep string, parts ...string) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if l.more > 0 || l.b.Len()+len(sep)+n > maxListChars {
		l.more++
		return
	}
	if l.b.Len() > 0 {
		l.b.WriteString(sep)
	}
	for _, p := range parts {
		l.b.WriteString(p)
	}
}

func (l *cappedList) String(sep string) string {
	if l.more > 0 {
		l.b.WriteString(sep + "(+" + strconv.Itoa(l.more) + " more; see Mailboxes)")
	}
	return l.b.String()
}

// uncountable names the folders whose counts are unknown: not selectable
// (\Noselect, \NonExistent), or counting failed or was not answered. A
// folder with an error is written "name: error".
func uncountable(fs []results.Folder) string {
	var b strings.Builder
	for i := range fs {
		f := &fs[i]
		if f.Countable && f.Error == "" && f.BeforeCutoff != nil && f.AfterCutoff != nil {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		if f.Error != "" {
			b.WriteString(": ")
			b.WriteString(f.Error)
		}
	}
	return b.String()
}
