package baseline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/results"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadManifest(t *testing.T) {
	type mb struct {
		messages int64
		bytes    int64
		folders  map[string]int64
		uidv     map[string]uint32
		source   string
	}
	tests := []struct {
		name, file, content string
		want                map[string]mb
		columns             map[string]string
	}{
		{
			name: "mailbox totals, semicolon, aliases", file: "usage.csv",
			content: "\ufeffE-Mail;Message Count;Size\r\nanna@ISP.example;1,234;5000\r\n\r\nbob@isp.example;0;\r\n",
			want: map[string]mb{
				"anna@isp.example": {messages: 1234, bytes: 5000, source: "usage.csv:2"},
				"bob@isp.example":  {messages: 0, bytes: -1, source: "usage.csv:4"},
			},
			columns: map[string]string{"mailbox": "E-Mail", "messages": "Message Count", "bytes": "Size"},
		},
		{
			name: "folder rows summed, uidvalidity", file: "backup.csv",
			content: "mailbox,folder,messages_before_cutoff,uid_validity,oldest\n" +
				"anna@isp.example,INBOX,10,1700000000,2019-03-01\n" +
				"anna@isp.example,Archiv/2023,5,1700000001,\n" +
				"carl@isp.example,INBOX,3.0,,\n",
			want: map[string]mb{
				"anna@isp.example": {messages: 15, bytes: -1, folders: map[string]int64{"INBOX": 10, "Archiv/2023": 5},
					uidv: map[string]uint32{"INBOX": 1700000000, "Archiv/2023": 1700000001}, source: "backup.csv:2"},
				"carl@isp.example": {messages: 3, bytes: -1, folders: map[string]int64{"INBOX": 3}, source: "backup.csv:4"},
			},
		},
		{
			name: "total row with uidvalidity means INBOX", file: "m.csv",
			content: "user\tcount\tuidvalidity\ndora@isp.example\t7\t42\n",
			want:    map[string]mb{"dora@isp.example": {messages: 7, bytes: -1, folders: map[string]int64{"INBOX": 7}, uidv: map[string]uint32{"INBOX": 42}, source: "m.csv:2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Read(write(t, tt.file, tt.content), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if b.Kind != KindManifest || b.Len() != len(tt.want) {
				t.Fatalf("kind %s, %d mailboxes %v, want manifest with %d", b.Kind, b.Len(), b.Mailboxes(), len(tt.want))
			}
			for name, w := range tt.want {
				m := b.Lookup(strings.ToUpper(name))
				if m == nil {
					t.Fatalf("%s: not found", name)
				}
				if m.Messages != w.messages || m.Bytes != w.bytes || m.Source != w.source {
					t.Errorf("%s: %d messages %d bytes from %s, want %d %d %s", name, m.Messages, m.Bytes, m.Source, w.messages, w.bytes, w.source)
				}
				if len(m.Folders) != len(w.folders) {
					t.Errorf("%s: folders %+v, want %v", name, m.Folders, w.folders)
				}
				for fn, n := range w.folders {
					f, ok := m.Folder(fn)
					if !ok || f.Messages != n || f.UIDValidity != w.uidv[fn] {
						t.Errorf("%s %s: %+v, want %d messages uidvalidity %d", name, fn, f, n, w.uidv[fn])
					}
				}
			}
			for k, v := range tt.columns {
				if b.Columns[k] != v {
					t.Errorf("column %s = %q, want %q", k, b.Columns[k], v)
				}
			}
		})
	}
}

func TestReadManifestErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"no count column", "mailbox,size\na@x.example,1\n", "m.csv:1: no messages column"},
		{"no mailbox column", "messages\n3\n", "m.csv:1: no mailbox column"},
		{"bad count", "mailbox,messages\na@x.example,12\nb@x.example,twelve\n", `m.csv:3: messages: "twelve": want a whole number`},
		{"negative", "mailbox,messages\na@x.example,-1\n", `m.csv:2: messages: "-1"`},
		{"bad grouping", "mailbox,messages\na@x.example,\"1,23\"\n", `m.csv:2: messages: "1,23"`},
		{"empty count", "mailbox,messages\na@x.example,\n", "m.csv:2: messages: empty"},
		{"not a mailbox", "mailbox,messages\na b@x.example,1\n", "m.csv:2: mailbox: not a mailbox: contains a space"},
		{"duplicate", "mailbox,messages\na@x.example,1\nA@X.example,2\n", "m.csv:3: mailbox A@x.example is listed again (first at line 2)"},
		{"duplicate folder", "mailbox,folder,messages\na@x.example,INBOX,1\na@x.example,INBOX,2\n", `m.csv:3: mailbox a@x.example folder "INBOX" is listed again`},
		{"total and folders", "mailbox,folder,messages\na@x.example,,1\na@x.example,INBOX,2\n", "m.csv:3: folder: mailbox a@x.example has both"},
		{"bad uidvalidity", "mailbox,messages,uidvalidity\na@x.example,1,0\n", "m.csv:2: uidvalidity: \"0\""},
		{"bad oldest", "mailbox,messages,oldest\na@x.example,1,yesterday\n", `m.csv:2: oldest: "yesterday"`},
		{"two count columns", "mailbox,messages,count\n", `m.csv:1: columns "messages" and "count" both give the messages`},
		{"empty file", "", "m.csv: no header row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(write(t, "m.csv", tt.content), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReadManifestXLSX(t *testing.T) {
	f := excelize.NewFile()
	rows := [][]any{{"Login", "Folder", "Items"}, {"anna@isp.example", "INBOX", 12}, {"anna@isp.example", "Sent", 3}, {"bob@isp.example", "INBOX", "x"}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "backup.xlsx")
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p, Options{})
	if err == nil || !strings.Contains(err.Error(), `backup.xlsx:4: Items: "x"`) {
		t.Fatalf("err %v, want backup.xlsx:4 on the bad count", err)
	}
	if err := f.SetCellValue("Sheet1", "C4", 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	b, err := Read(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Lookup("anna@isp.example"); m == nil || m.Messages != 15 || len(m.Folders) != 2 {
		t.Errorf("anna: %+v", m)
	}
	if _, err := Read(p, Options{Sheet: "Nope"}); err == nil || !strings.Contains(err.Error(), `no sheet "Nope"`) {
		t.Errorf("missing sheet: %v", err)
	}
}

func TestReadResults(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	i64 := func(n int64) *int64 { return &n }
	u32 := func(n uint32) *uint32 { return &n }
	mailbox := func(name string, outcome string, folders ...results.Folder) string {
		b, _ := jsonLine(results.Mailbox{Kind: results.KindMailbox, Mailbox: name, Login: results.Login{Outcome: outcome}, Folders: folders})
		return b
	}
	header := func(started time.Time, cut time.Time) string {
		b, _ := jsonLine(results.Scan{Kind: results.KindScan, StartedAt: started, Cutoff: cut})
		return b
	}
	anna := mailbox("anna@isp.example", "ok",
		results.Folder{Name: "INBOX", Countable: true, Messages: i64(9), BeforeCutoff: i64(6), UIDValidity: u32(77)},
		results.Folder{Name: "Junk", Countable: false})
	bob := mailbox("bob@isp.example", "failed")
	// carl's count before the cutoff is unknown; his total is known.
	carl := mailbox("carl@isp.example", "ok", results.Folder{Name: "INBOX", Countable: true, Messages: i64(4)})

	tests := []struct {
		name, content string
		annaMessages  int64
		listed        int
		err           string
	}{
		{"taken before the cutoff: every message", header(cutoff.Add(-24*time.Hour), cutoff.Add(-48*time.Hour)) + anna + bob + carl, 9, 2, ""},
		{"taken after, same cutoff: before the cutoff", header(cutoff.Add(time.Hour), cutoff) + anna + bob + carl, 6, 1, ""},
		{"taken after, another cutoff", header(cutoff.Add(time.Hour), cutoff.Add(-time.Hour)) + anna, 0, 0, "with another cutoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Read(write(t, "earlier.jsonl", tt.content), Options{Cutoff: cutoff})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Kind != KindResults || b.Len() != tt.listed || b.Lookup("bob@isp.example") != nil {
				t.Fatalf("%s with %v, want results with %d (never bob: login failed)", b.Kind, b.Mailboxes(), tt.listed)
			}
			m := b.Lookup("anna@isp.example")
			f, ok := m.Folder("inbox")
			if m.Messages != tt.annaMessages || !ok || f.UIDValidity != 77 || len(m.Folders) != 1 {
				t.Errorf("anna %+v, want %d messages, INBOX uidvalidity 77", m, tt.annaMessages)
			}
		})
	}
}
