package classify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/results"
)

func TestCustomerType(t *testing.T) {
	r := DefaultRules()
	r.ISPDomains = []string{"isp.example", "mail.isp.example"}
	tests := []struct {
		mailbox, rawType, product string
		want, source              string
	}{
		{"a@isp.example", "Business", "", results.TypeBusiness, "inventory"},
		{"a@isp.example", " PRIVATE ", "Business Mail Pro", results.TypeResidential, "inventory"},
		{"a@isp.example", "", "Business Mail Pro", results.TypeBusiness, "product"},
		{"a@isp.example", "", "Home Basic", results.TypeResidential, "product"},
		{"a@isp.example", "gold", "Home Basic", results.TypeResidential, "product"},
		{"info@mueller-bau.example", "", "", results.TypeBusiness, "domain"},
		{"info@MAIL.ISP.EXAMPLE", "", "", results.TypeUnknown, "none"},
		{"a@isp.example", "", "Classic", results.TypeUnknown, "none"},
		{"localuser", "", "", results.TypeUnknown, "none"},
	}
	for _, tt := range tests {
		got, src := r.CustomerType(tt.mailbox, tt.rawType, tt.product)
		if got != tt.want || src != tt.source {
			t.Errorf("CustomerType(%q, %q, %q) = %s/%s, want %s/%s", tt.mailbox, tt.rawType, tt.product, got, src, tt.want, tt.source)
		}
	}
	// Without ISP domains the domain rule decides nothing.
	if got, _ := DefaultRules().CustomerType("info@mueller-bau.example", "", ""); got != results.TypeUnknown {
		t.Errorf("no isp_domains: got %s, want unknown", got)
	}
}

func n(v int64) *int64 { return &v }

func TestDecide(t *testing.T) {
	cutoff := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	okLogin := results.Login{Outcome: "ok"}
	folder := func(before int64) results.Folder {
		return results.Folder{Name: "INBOX", Countable: true, BeforeCutoff: n(before), AfterCutoff: n(3)}
	}
	tests := []struct {
		name     string
		rec      results.Mailbox
		want     results.Impact
		evidence string
	}{
		{"authorization failed", results.Mailbox{Login: results.Login{Outcome: "failed", Code: "AUTHORIZATIONFAILED", Text: "Authorization failed"}}, results.ImpactLoginFailed, "[AUTHORIZATIONFAILED]"},
		{"network error", results.Mailbox{Login: results.Login{Outcome: "error"}, Error: "connect: refused"}, results.ImpactProbeError, "connect: refused"},
		{"old mail present", results.Mailbox{Login: okLogin, Folders: []results.Folder{folder(0), folder(5)}}, results.ImpactOK, "5 messages"},
		{"opened before cutoff, imap", results.Mailbox{Login: okLogin, Created: "2019-03-01", Access: "IMAP", Folders: []results.Folder{folder(0)}}, results.ImpactMissingOldMail, "access imap"},
		{"opened before cutoff, access unknown", results.Mailbox{Login: okLogin, Created: "2019-03-01", Folders: []results.Folder{folder(0)}}, results.ImpactMissingOldMail, "access unknown"},
		{"pop3", results.Mailbox{Login: okLogin, Created: "2019-03-01", Access: "pop3", Folders: []results.Folder{folder(0)}}, results.ImpactNoOldMail, "pop3"},
		{"opened after cutoff", results.Mailbox{Login: okLogin, Created: "2026-11-30", Access: "imap", Folders: []results.Folder{folder(0)}}, results.ImpactNoOldMail, "after the cutoff"},
		{"no evidence", results.Mailbox{Login: okLogin, Folders: []results.Folder{folder(0)}}, results.ImpactNoOldMail, "no inventory evidence"},
		{"access imap, no opening date", results.Mailbox{Login: okLogin, Access: "webmail", Folders: []results.Folder{folder(0)}}, results.ImpactMissingOldMail, "opening date unknown"},
		{"uncounted folder, nothing found", results.Mailbox{Login: okLogin, Created: "2019-03-01", Folders: []results.Folder{folder(0), {Name: "Sent", Countable: true, Error: "timeout"}}}, results.ImpactProbeError, "counts incomplete"},
		{"uncounted folder but old mail found elsewhere", results.Mailbox{Login: okLogin, Folders: []results.Folder{folder(2), {Name: "Sent", Countable: true}}}, results.ImpactOK, "2 messages"},
		{"noselect folder is not counted", results.Mailbox{Login: okLogin, Folders: []results.Folder{folder(1), {Name: "Archiv", Countable: false}}}, results.ImpactOK, "1 message before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec
			rec.Mailbox = "a@isp.example"
			Decide(&rec, cutoff, DefaultRules())
			if rec.Impact != tt.want || !strings.Contains(rec.Evidence, tt.evidence) {
				t.Errorf("got %s (%q), want %s containing %q", rec.Impact, rec.Evidence, tt.want, tt.evidence)
			}
		})
	}
}

func mb(mailbox, account, typ string, imp results.Impact) *results.Mailbox {
	return &results.Mailbox{Mailbox: mailbox, AccountID: account, CustomerType: typ, Impact: imp}
}

func TestAccountsRanking(t *testing.T) {
	B, R, U := results.TypeBusiness, results.TypeResidential, results.TypeUnknown
	recs := []*results.Mailbox{
		mb("r1@isp", "R1", R, results.ImpactLoginFailed),
		mb("u1@isp", "U1", U, results.ImpactMissingOldMail),
		mb("b1@x", "B1", B, results.ImpactMissingOldMail),
		mb("m1a@y", "M1", B, results.ImpactMissingOldMail),
		mb("m1b@y", "M1", B, results.ImpactOK),
		mb("m2a@z", "M2", B, results.ImpactLoginFailed),
		mb("m2b@z", "M2", R, results.ImpactOK), // any business mailbox makes the account business
		mb("m3a@w", "M3", B, results.ImpactMissingOldMail),
		mb("m3b@w", "M3", B, results.ImpactMissingOldMail),
		mb("b2@x", "B2", B, results.ImpactLoginFailed),
		mb("ok@isp", "OK1", R, results.ImpactOK),
		mb("pe@isp", "PE1", R, results.ImpactProbeError),
		mb("r2@isp", "00420", R, results.ImpactMissingOldMail),
		mb("r3@isp", "0042", R, results.ImpactMissingOldMail),
	}
	accts := Accounts(recs)
	var got []string
	for _, a := range accts {
		got = append(got, a.ID)
	}
	// M2 (login failed) before M3 (2 missing) before M1 (1 missing); then
	// business B2 (login failed) before B1; unknown; residential login
	// failure first, then by ID; unimpacted last by ID.
	want := []string{"M2", "M3", "M1", "B2", "B1", "U1", "R1", "0042", "00420", "OK1", "PE1"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("order %v, want %v", got, want)
	}
	for i, a := range accts[:9] {
		if a.Rank != i+1 {
			t.Errorf("%s rank %d, want %d", a.ID, a.Rank, i+1)
		}
	}
	m2 := accts[0]
	if !m2.MultiMailbox || m2.CustomerType != B || m2.Tier != TierBusinessMulti || m2.Impact != results.ImpactLoginFailed || m2.LoginFailed != 1 {
		t.Errorf("M2 = %+v", m2)
	}
	if !recs[6].MultiMailbox {
		t.Error("mailbox of a multi-mailbox account not marked multi_mailbox")
	}
	if pe := accts[10]; pe.Rank != 0 || pe.Impact != results.ImpactProbeError || pe.ProbeErrors != 1 {
		t.Errorf("PE1 = %+v", pe)
	}
}

func TestLoadRules(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "rules.toml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r, err := LoadRules(write("isp_domains = [\"isp.example\"]\n[[product]]\nmatch = \"gold*\"\ntype = \"business\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, src := r.CustomerType("a@isp.example", "", "Gold Plus"); got != results.TypeBusiness || src != "product" {
		t.Errorf("custom product rule: %s/%s", got, src)
	}
	if len(r.Types.Business) == 0 {
		t.Error("defaults lost for keys the file does not set")
	}
	for _, tc := range []struct{ body, want string }{
		{"isp_domain = [\"x\"]\n", "unknown setting isp_domain"},
		{"isp_domains = [\"x\"\n", "rules.toml:"},
		{"[[product]]\nmatch = \"x\"\ntype = \"vip\"\n", `type must be "business" or "residential"`},
		{"[types]\nbusiness = [\"pro\"]\nresidential = [\"Pro\"]\n", `"pro" is listed under both types.business and types.residential`},
		{"[old_mail]\nnot_kept = [\"imap\"]\n", `"imap" is listed under both old_mail.kept_on_server and old_mail.not_kept`},
	} {
		_, err := LoadRules(write(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadRules(%q) error %v, want %q", tc.body, err, tc.want)
		}
	}
}
