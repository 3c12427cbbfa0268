package export

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/results"
)

// kind is what a cell holds; it decides the cell's type and style in the
// workbook (and, later, its text in CSV).
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

// count is an optional count: nil (the server did not say) is an empty
// cell, never 0.
func count(p *int64) value {
	if p == nil {
		return value{}
	}
	return number(*p)
}

func instant(t time.Time) value {
	if t.IsZero() {
		return value{}
	}
	return value{kind: timeCell, t: t}
}

func instantPtr(t *time.Time) value {
	if t == nil {
		return value{}
	}
	return instant(*t)
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
}

// table is a sheet of one header row and rows of values, produced by index
// so the rows can be visited more than once (width estimate, then write)
// and reused by other renderers (CSV) without being held in memory.
type table struct {
	name    string
	columns []column
	rows    int
	// row fills out (len(columns) values) with row i, 0 <= i < rows.
	row func(i int, out []value)
}

// view is the Report prepared for rendering: derived orderings and
// selections computed once.
type view struct {
	r           *Report
	loc         *time.Location
	ranked      []*classify.Account // Rank > 0, in rank order
	probeErrors []*results.Mailbox  // impact probe_error, in mailbox order
}

func newView(r *Report) *view {
	v := &view{r: r, loc: r.Location}
	if v.loc == nil {
		v.loc = time.UTC
	}
	for _, a := range r.Accounts {
		if a != nil && a.Rank > 0 {
			v.ranked = append(v.ranked, a)
		}
	}
	slices.SortStableFunc(v.ranked, func(a, b *classify.Account) int {
		return cmp.Or(cmp.Compare(a.Rank, b.Rank), strings.Compare(a.ID, b.ID))
	})
	for _, m := range r.Mailboxes {
		if m != nil && fillImpact(m.Impact) == results.ImpactProbeError {
			v.probeErrors = append(v.probeErrors, m)
		}
	}
	return v
}

// tables lists the streamed sheets in workbook order, after Summary.
func (v *view) tables() []table {
	return []table{v.priorityTable(), v.mailboxTable(), v.probeErrorTable()}
}

func (v *view) priorityTable() table {
	return table{
		name: "Priority",
		columns: []column{
			{header: "Rank", kind: numberCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Tier", kind: textCell},
			{header: "Multi-mailbox", kind: textCell},
			{header: "Mailboxes", kind: numberCell},
			{header: "Login failed", kind: numberCell},
			{header: "Missing old mail", kind: numberCell},
			{header: "Worst impact", kind: textCell},
			{header: "Contact", kind: textCell},
			{header: "Phone", kind: textCell},
			{header: "Mailboxes affected", kind: textCell, maxWidth: 80},
		},
		rows: len(v.ranked),
		row: func(i int, out []value) {
			a := v.ranked[i]
			out[0] = number(int64(a.Rank))
			out[1] = text(a.ID)
			out[2] = text(a.CustomerType)
			out[3] = text(a.Tier.String())
			out[4] = yesNo(a.MultiMailbox)
			out[5] = number(int64(len(a.Mailboxes)))
			out[6] = number(int64(a.LoginFailed))
			out[7] = number(int64(a.MissingOld))
			out[8] = impactCell(a.Impact)
			out[9] = text(distinct(a.Mailboxes, func(m *results.Mailbox) string { return m.ContactName }))
			out[10] = text(distinct(a.Mailboxes, func(m *results.Mailbox) string { return m.ContactPhone }))
			out[11] = text(affected(a.Mailboxes))
		},
	}
}

func (v *view) mailboxTable() table {
	ms := v.r.Mailboxes
	return table{
		name: "Mailboxes",
		columns: []column{
			{header: "Mailbox", kind: textCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Multi-mailbox", kind: textCell},
			{header: "Impact", kind: textCell},
			{header: "Evidence", kind: textCell},
			{header: "Login outcome", kind: textCell},
			{header: "Response code", kind: textCell},
			{header: "Server text", kind: textCell},
			{header: "Before cutoff", kind: numberCell},
			{header: "After cutoff", kind: numberCell},
			{header: "Oldest", kind: timeCell},
			{header: "Newest", kind: timeCell},
			{header: "Folders", kind: numberCell},
			{header: "Folders not countable", kind: textCell},
			{header: "Product", kind: textCell},
			{header: "Created", kind: dayCell},
			{header: "Contact", kind: textCell},
			{header: "Phone", kind: textCell},
			{header: "Error", kind: textCell},
			{header: "Probed at", kind: timeCell},
			{header: "Duration ms", kind: numberCell},
		},
		rows: len(ms),
		row: func(i int, out []value) {
			m := ms[i]
			if m == nil {
				clear(out)
				return
			}
			out[0] = text(m.Mailbox)
			out[1] = text(m.AccountID)
			out[2] = text(m.CustomerType)
			out[3] = yesNo(m.MultiMailbox)
			out[4] = impactCell(m.Impact)
			out[5] = text(m.Evidence)
			out[6] = text(m.Login.Outcome)
			out[7] = text(m.Login.Code)
			out[8] = text(m.Login.Text)
			out[9] = count(m.BeforeCutoff)
			out[10] = count(m.AfterCutoff)
			out[11] = instantPtr(m.Oldest)
			out[12] = instantPtr(m.Newest)
			// A mailbox that was never opened has no folder list: unknown.
			if m.Folders == nil {
				out[13] = value{}
			} else {
				out[13] = number(int64(len(m.Folders)))
			}
			out[14] = text(uncountable(m.Folders))
			out[15] = text(m.Product)
			out[16] = day(m.Created)
			out[17] = text(m.ContactName)
			out[18] = text(m.ContactPhone)
			out[19] = text(m.Error)
			out[20] = instant(m.ProbedAt)
			out[21] = number(m.DurationMS)
		},
	}
}

func (v *view) probeErrorTable() table {
	return table{
		name: "Probe errors",
		columns: []column{
			{header: "Mailbox", kind: textCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Error", kind: textCell},
			{header: "Attempts", kind: numberCell},
			{header: "Earlier failures", kind: textCell},
			{header: "Probed at", kind: timeCell},
		},
		rows: len(v.probeErrors),
		row: func(i int, out []value) {
			m := v.probeErrors[i]
			out[0] = text(m.Mailbox)
			out[1] = text(m.AccountID)
			out[2] = text(m.CustomerType)
			out[3] = text(m.Error)
			out[3].fill = results.ImpactProbeError
			out[4] = number(int64(len(m.Attempts) + 1))
			out[5] = text(strings.Join(m.Attempts, " | "))
			out[6] = instant(m.ProbedAt)
		},
	}
}

// maxListed bounds the distinct contacts listed for one account; a
// business account with hundreds of mailboxes should not fill the cell.
const maxListed = 5

// distinct joins the distinct non-empty values of field over ms, in order,
// with "; ", listing at most maxListed and counting the rest.
func distinct(ms []*results.Mailbox, field func(*results.Mailbox) string) string {
	var seen []string
	more := 0
	for _, m := range ms {
		if m == nil {
			continue
		}
		s := field(m)
		if s == "" || slices.Contains(seen, s) {
			continue
		}
		if len(seen) == maxListed {
			more++
			continue
		}
		seen = append(seen, s)
	}
	out := strings.Join(seen, "; ")
	if more > 0 {
		out += "; (+" + strconv.Itoa(more) + " more)"
	}
	return out
}

// maxListChars keeps a joined list under the 32,767 characters a cell holds
// (excelize would cut it silently), leaving room for the "(+N more)" note.
const maxListChars = 32_000

// affected joins the mailboxes that need action (login_failed,
// missing_old_mail) with ", ". A list too long for one cell ends with
// "(+N more; see Mailboxes)".
func affected(ms []*results.Mailbox) string {
	var b strings.Builder
	more := 0
	for _, m := range ms {
		if m == nil || !m.Impact.Impacted() {
			continue
		}
		if more > 0 || b.Len()+2+len(m.Mailbox) > maxListChars {
			more++
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Mailbox)
	}
	if more > 0 {
		b.WriteString(", (+" + strconv.Itoa(more) + " more; see Mailboxes)")
	}
	return b.String()
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
