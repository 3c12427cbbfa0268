package export

import (
	"errors"
	"slices"
	"strings"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/results"
)

// Builder collects decided mailbox records (classify.Decide has set
// CustomerType, Impact and Evidence) into Records. It keeps only what the
// sheets show: per-folder detail is reduced to the folder count and the
// list of folders that could not be counted. Make one with NewBuilder, Add
// every record, then call Records.
type Builder struct {
	s   *store
	rec *Records // set by Records
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{s: &store{}} }

// Add copies what the sheets show of m; m may be reused afterwards. A later
// record of the same mailbox replaces an earlier one, as in a results file.
// Errors: m has no mailbox name; the Builder is already finished.
func (b *Builder) Add(m *results.Mailbox) error {
	if b.rec != nil {
		return errBuilderDone
	}
	return b.s.add(m)
}

var errBuilderDone = errors.New("builder already finished")

// Records groups the mailboxes into accounts and ranks the impacted ones,
// as classify.Accounts does (TestRanksMatchClassify holds the two to the
// same order). Records cannot be added afterwards; a second call returns
// the same Records.
func (b *Builder) Records() *Records {
	if b.rec == nil {
		b.rec = newRecords(b.s)
	}
	return b.rec
}

// Records is every mailbox and account of a report, compactly stored,
// sorted and ranked. Make it with a Builder. It is read-only.
type Records struct {
	s *store
	// mail holds the blob offset of every mailbox's latest record, sorted
	// by mailbox name.
	mail []int
	// acctOf is the index in accounts of each mailbox in mail.
	acctOf []int32
	// byAcct lists mail indexes grouped by account, in mailbox order within
	// an account; an account's mailboxes are byAcct[first:first+n].
	byAcct []int32
	// accounts are in classify.Accounts order: impacted accounts in rank
	// order, then the others by ID.
	accounts []account
	impacted int
	// probeErrors lists the mail indexes whose impact is probe_error (or
	// outside the vocabulary), in mailbox order.
	probeErrors []int32
	counts      map[results.Impact]int
}

// account is one account_id's figures.
type account struct {
	first, n     int32 // its mailboxes: byAcct[first : first+n]
	worst        int32 // mail index of its first worst mailbox; -1 when all are ok
	customerType string
	tier         classify.Tier
	multi        bool
	loginFailed  int32
	missingOld   int32
	probeErrors  int32
	rank         int32 // 1-based among impacted accounts; 0 when not impacted
}

func (a *account) affected() int { return int(a.loginFailed + a.missingOld) }

func newRecords(s *store) *Records {
	r := &Records{s: s, counts: map[results.Impact]int{}}
	// Latest record per mailbox: sort by name, keeping Add order among
	// records of one mailbox (stable), and keep the last of each run.
	type keyed struct {
		name string
		off  int
	}
	ks := make([]keyed, len(s.offsets))
	for i, off := range s.offsets {
		ks[i] = keyed{s.mailbox(off), off}
	}
	s.offsets = nil
	slices.SortStableFunc(ks, func(a, b keyed) int { return strings.Compare(a.name, b.name) })
	r.mail = make([]int, 0, len(ks))
	for i, k := range ks {
		if i+1 < len(ks) && ks[i+1].name == k.name {
			continue
		}
		r.mail = append(r.mail, k.off)
	}
	ks = nil

	// Group by account: mail indexes sorted by account, stable so each
	// account's mailboxes stay in name order.
	type grouped struct {
		account string
		idx     int32
	}
	gs := make([]grouped, len(r.mail))
	for i, off := range r.mail {
		_, acc, _, imp := s.head(off)
		gs[i] = grouped{acc, int32(i)}
		r.counts[imp]++
		if fillImpact(imp) == results.ImpactProbeError {
			r.probeErrors = append(r.probeErrors, int32(i))
		}
	}
	slices.SortStableFunc(gs, func(a, b grouped) int { return strings.Compare(a.account, b.account) })
	r.byAcct = make([]int32, len(gs))
	r.acctOf = make([]int32, len(gs))
	for i := 0; i < len(gs); {
		j := i
		for j < len(gs) && gs[j].account == gs[i].account {
			r.byAcct[j] = gs[j].idx
			j++
		}
		r.accounts = append(r.accounts, r.summarise(int32(i), int32(j-i)))
		i = j
	}
	gs = nil

	// Rank: the order of classify.Accounts.
	slices.SortStableFunc(r.accounts, func(a, b account) int { return r.compareAccounts(&a, &b) })
	for i := range r.accounts {
		a := &r.accounts[i]
		if a.affected() > 0 {
			r.impacted++
			a.rank = int32(r.impacted)
		}
		for _, m := range r.byAcct[a.first : a.first+a.n] {
			r.acctOf[m] = int32(i)
		}
	}
	return r
}

// summarise computes an account's figures from its mailboxes, as
// classify.Accounts does: business if any mailbox is, else residential if
// any is, else unknown; the worst impact by Severity, starting from ok.
func (r *Records) summarise(first, n int32) account {
	a := account{first: first, n: n, customerType: results.TypeUnknown, worst: -1, multi: n >= 2}
	worst := results.ImpactOK
	for _, m := range r.byAcct[first : first+n] {
		_, _, typ, imp := r.s.head(r.mail[m])
		a.customerType = classify.MergeType(a.customerType, typ)
		if imp.Severity() > worst.Severity() {
			a.worst, worst = m, imp
		}
		switch imp {
		case results.ImpactLoginFailed:
			a.loginFailed++
		case results.ImpactMissingOldMail, results.ImpactPartiallyRestored:
			a.missingOld++
		case results.ImpactProbeError:
			a.probeErrors++
		}
	}
	a.tier = classify.TierOf(a.customerType, a.multi)
	return a
}

// impact is the account's worst impact; ok when every mailbox is ok.
func (r *Records) impact(a *account) results.Impact {
	if a.worst < 0 {
		return results.ImpactOK
	}
	_, _, _, imp := r.s.head(r.mail[a.worst])
	return imp
}

// id is the account's ID (its mailboxes' account_id).
func (r *Records) id(a *account) string {
	_, acc, _, _ := r.s.head(r.mail[r.byAcct[a.first]])
	return acc
}

// compareAccounts ranks as classify does (classify.Compare).
func (r *Records) compareAccounts(a, b *account) int {
	key := func(a *account) classify.RankKey {
		return classify.RankKey{ID: r.id(a), Tier: a.tier, LoginFailed: int(a.loginFailed), Affected: a.affected()}
	}
	return classify.Compare(key(a), key(b))
}

// Mailboxes is the number of mailboxes (the latest record of each).
func (r *Records) Mailboxes() int { return len(r.mail) }

// Accounts is the number of accounts.
func (r *Records) Accounts() int { return len(r.accounts) }

// Impacted is the number of impacted accounts (those with a rank).
func (r *Records) Impacted() int { return r.impacted }

// Count is the number of mailboxes with impact i (raw values, as recorded).
func (r *Records) Count(i results.Impact) int { return r.counts[i] }

// Has reports whether mailbox has a record.
func (r *Records) Has(mailbox string) bool {
	_, ok := slices.BinarySearchFunc(r.mail, mailbox, func(off int, name string) int {
		return strings.Compare(r.s.mailbox(off), name)
	})
	return ok
}

// mailboxesOf returns the mail indexes of a's mailboxes, in name order.
func (r *Records) mailboxesOf(a *account) []int32 { return r.byAcct[a.first : a.first+a.n] }
