package playbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/impact-ops/impact/internal/results"
)

func TestDefaults(t *testing.T) {
	var nilBook *Playbook
	for _, p := range []*Playbook{Default(), nilBook, {}} {
		tests := []struct {
			impact       results.Impact
			typ          string
			action, text string // substrings
		}{
			{results.ImpactLoginFailed, results.TypeBusiness, "business restore team", "restoring it with priority"},
			{results.ImpactLoginFailed, results.TypeResidential, "own address", "within about 30 minutes"},
			{results.ImpactLoginFailed, results.TypeUnknown, "Confirm the customer type", "cannot be opened"},
			{results.ImpactLoginFailed, "odd", "Confirm the customer type", "cannot be opened"},
			{results.ImpactMissingOldMail, results.TypeBusiness, "restored from backup", "new mail is unaffected"},
			{results.ImpactMissingOldMail, results.TypeResidential, "restored from backup", "keeps arriving"},
			{results.ImpactProbeError, results.TypeBusiness, "Rescan", "still checking"},
			{"weird", results.TypeBusiness, "Rescan", "still checking"},
			{results.ImpactNoOldMail, results.TypeResidential, "No action", "keeps arriving"},
			{results.ImpactOK, results.TypeBusiness, "No action", "complete"},
		}
		for _, tt := range tests {
			e := p.For(tt.impact, tt.typ)
			if !strings.Contains(e.Action, tt.action) || !strings.Contains(e.Script, tt.text) {
				t.Errorf("For(%s, %s) = %+v, want action ~%q script ~%q", tt.impact, tt.typ, e, tt.action, tt.text)
			}
		}
	}
}

func write(t *testing.T, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "settings.toml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestLoad(t *testing.T) {
	file := write(t, `
# Rules of internal/classify share the file: Load leaves them alone.
isp_domains = ["isp.example"]

[types]
business = ["b2b"]

[playbook.login_failed.business]
action = "Call the business desk."
script = "A business script."

[playbook.login_failed.any]
script = "Any type's script."

[playbook.missing_old_mail.residential]
action = "Residential action."

[playbook.ok.any]
action = ""
`)
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	tests := []struct {
		impact results.Impact
		typ    string
		want   Entry
	}{
		// Exact entry from the file.
		{results.ImpactLoginFailed, results.TypeBusiness, Entry{"Call the business desk.", "A business script."}},
		// The file's "any" beats the default's exact entry, field by field.
		{results.ImpactLoginFailed, results.TypeResidential, Entry{def.For(results.ImpactLoginFailed, results.TypeResidential).Action, "Any type's script."}},
		{results.ImpactLoginFailed, results.TypeUnknown, Entry{def.For(results.ImpactLoginFailed, results.TypeUnknown).Action, "Any type's script."}},
		// Only the action set: the script stays the default.
		{results.ImpactMissingOldMail, results.TypeResidential, Entry{"Residential action.", def.For(results.ImpactMissingOldMail, results.TypeResidential).Script}},
		{results.ImpactMissingOldMail, results.TypeBusiness, def.For(results.ImpactMissingOldMail, results.TypeBusiness)},
		// An explicit "" blanks a field.
		{results.ImpactOK, results.TypeBusiness, Entry{"", def.For(results.ImpactOK, results.TypeBusiness).Script}},
	}
	for _, tt := range tests {
		if got := p.For(tt.impact, tt.typ); got != tt.want {
			t.Errorf("For(%s, %s) = %+v, want %+v", tt.impact, tt.typ, got, tt.want)
		}
	}
	// A settings file without a playbook gives the defaults.
	p, err = Load(write(t, "isp_domains = [\"isp.example\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.For(results.ImpactLoginFailed, results.TypeBusiness), def.For(results.ImpactLoginFailed, results.TypeBusiness); got != want {
		t.Errorf("no playbook table: %+v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown impact", "[playbook.lost.business]\naction = \"x\"\n", `unknown impact "lost"`},
		{"unknown type", "[playbook.login_failed.vip]\naction = \"x\"\n", `unknown customer type "vip"`},
		{"unknown key", "[playbook.login_failed.business]\nactoin = \"x\"\n", "unknown setting playbook.login_failed.business.actoin"},
		{"not a string", "[playbook.login_failed.business]\naction = 3\n", "playbook"},
		{"no type level", "[playbook.login_failed]\naction = \"x\"\n", "playbook"},
		{"syntax", "[playbook.login_failed.business\naction = \"x\"\n", "settings.toml:2: expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Error("missing file: no error")
	}
}
