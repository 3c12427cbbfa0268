package inventory

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestReadTable(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string // "line: cells joined by |", header first
		err                 string
	}{
		{name: "bom, crlf, blank lines, trimmed cells", file: "a.csv", content: "\ufeffMailbox,Count\r\n\r\n a@x.example ,\u00a012\r\n",
			want: []string{"1: Mailbox|Count", "3: a@x.example|12"}},
		{name: "sep line", file: "a.csv", content: "sep=;\nmailbox;count\na@x.example;1\n",
			want: []string{"2: mailbox|count", "3: a@x.example|1"}},
		{name: "tabs detected", file: "a.txt", content: "mailbox\tcount\na@x.example\t1\n",
			want: []string{"1: mailbox|count", "2: a@x.example|1"}},
		{name: "quoted field across lines keeps its line", file: "a.csv", content: "mailbox,note\n\"a@x.example\",\"two\nlines\"\nb@x.example,x\n",
			want: []string{"1: mailbox|note", "2: a@x.example|two\nlines", "4: b@x.example|x"}},
		{name: "utf-16", file: "a.csv", content: "\xff\xfem\x00", err: "a.csv:1: the file is UTF-16"},
		{name: "latin-1", file: "a.csv", content: "mailbox,count\nm\xfcller@x.example,1\n", err: "a.csv:2: field 1: invalid UTF-8"},
		{name: "empty", file: "a.csv", content: "\n\n", err: "a.csv: no header row"},
		{name: "unknown extension", file: "a.ods", content: "x", err: `unknown format ".ods"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var got []string
			collect := func(r TableRow) error {
				got = append(got, strings.Join([]string{strconv.Itoa(r.Line), strings.Join(r.Cells, "|")}, ": "))
				return nil
			}
			err := ReadTable(p, "", collect, collect)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("rows %q, want %q", got, tt.want)
			}
		})
	}
}
