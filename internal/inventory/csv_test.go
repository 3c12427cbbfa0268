package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// brief renders an entry's fields for comparison, "" fields included.
func brief(e Entry) string {
	created := ""
	if c := e.Created(); !c.IsZero() {
		created = c.Format(time.RFC3339)
	}
	return strings.Join([]string{e.Mailbox(), e.AccountID(), e.CustomerType(), e.Product(), created,
		e.Access(), e.ContactName(), e.ContactPhone(), e.Password(), e.Source()}, "|")
}

func briefs(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = brief(e)
	}
	return out
}

func errStrings(rs []RowError) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Error()
	}
	return out
}

func TestReadCSVLayouts(t *testing.T) {
	tests := []struct {
		name    string
		content string
		sep     rune
		want    []string
	}{
		{
			name:    "comma",
			content: "email,account\nann@example.net,1\nbob@example.net,2\n",
			sep:     ',',
			want:    []string{"ann@example.net|1||||||||a.csv:2", "bob@example.net|2||||||||a.csv:3"},
		},
		{
			name:    "semicolon with commas in a quoted name",
			content: "email;account;name\nann@example.net;1;\"Smith, Ann\"\n",
			sep:     ';',
			want:    []string{"ann@example.net|1|||||Smith, Ann|||a.csv:2"},
		},
		{
			name:    "semicolon header with more commas inside quotes",
			content: "\"a,b,c\";email;account\nx;ann@example.net;1\n",
			sep:     ';',
			want:    []string{"ann@example.net|1||||||||a.csv:2"},
		},
		{
			name:    "sep= line shifts line numbers",
			content: "sep=;\nemail;account\nann@example.net;1\n",
			sep:     ';',
			want:    []string{"ann@example.net|1||||||||a.csv:3"},
		},
		{
			name:    "sep= overrides detection",
			content: "sep=|\r\nemail|name\r\nann@example.net|Smith, Ann; Bob\r\n",
			sep:     '|',
			want:    []string{"ann@example.net|ann@example.net|||||Smith, Ann; Bob|||a.csv:3"},
		},
		{
			name:    "BOM and CRLF",
			content: "\ufeffEmail,Account\r\nann@example.net,1\r\n",
			sep:     ',',
			want:    []string{"ann@example.net|1||||||||a.csv:2"},
		},
		{
			name:    "BOM then sep=",
			content: "\ufeffsep=;\nemail;account\nann@example.net;1\n",
			sep:     ';',
			want:    []string{"ann@example.net|1||||||||a.csv:3"},
		},
		{
			name:    "tab separated",
			content: "email\taccount\tname\nann@example.net\t1\tSmith, Ann\n",
			sep:     '\t',
			want:    []string{"ann@example.net|1|||||Smith, Ann|||a.csv:2"},
		},
		{
			name:    "blank lines before the header and between rows",
			content: "\n,,\nemail,account\n\nann@example.net,1\n,\nbob@example.net,2",
			sep:     ',',
			want:    []string{"ann@example.net|1||||||||a.csv:5", "bob@example.net|2||||||||a.csv:7"},
		},
		{
			name:    "quoted multi-line field",
			content: "email,name,account\nann@example.net,\"Ann\nSmith\",1\nbob@example.net,Bob,2\n",
			sep:     ',',
			want:    []string{"ann@example.net|1|||||Ann\nSmith|||a.csv:2", "bob@example.net|2|||||Bob|||a.csv:4"},
		},
		{
			name:    "single column",
			content: "login\nann\n",
			sep:     ',',
			want:    []string{"ann|ann||||||||a.csv:2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read(writeFile(t, "a.csv", tt.content), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if inv.Separator != tt.sep {
				t.Errorf("Separator = %q, want %q", inv.Separator, tt.sep)
			}
			if got := briefs(inv.Entries); !slices.Equal(got, tt.want) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.want)
			}
			if len(inv.Rejected) != 0 {
				t.Errorf("rejected: %q", errStrings(inv.Rejected))
			}
		})
	}
}

func TestReadHeaders(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		columns map[string]string
		ignored []string
	}{
		{
			name:   "canonical names",
			header: "mailbox,account_id,customer_type,product,created,access,contact_name,contact_phone",
			columns: map[string]string{
				"mailbox": "mailbox", "account_id": "account_id", "customer_type": "customer_type", "product": "product",
				"created": "created", "access": "access", "contact_name": "contact_name", "contact_phone": "contact_phone",
			},
		},
		{
			name:   "aliases with case, spaces, dashes and underscores",
			header: "E-Mail, Customer No ,SEGMENT,Tariff,Activation-Date,Last Access Protocol,Customer_Name,Mobile",
			columns: map[string]string{
				"mailbox": "E-Mail", "account_id": "Customer No", "customer_type": "SEGMENT", "product": "Tariff",
				"created": "Activation-Date", "access": "Last Access Protocol", "contact_name": "Customer_Name", "contact_phone": "Mobile",
			},
		},
		{
			name:    "more aliases and ignored columns",
			header:  "Username,AccountNumber,Category,Plan,Since,Client,Contact,Tel,Notes,Password",
			columns: map[string]string{"mailbox": "Username", "account_id": "AccountNumber", "customer_type": "Category", "product": "Plan", "created": "Since", "access": "Client", "contact_name": "Contact", "contact_phone": "Tel"},
			ignored: []string{"Notes", "Password"},
		},
		{
			name:    "non-breaking space and BOM in a header",
			header:  "\u00a0Address\u00a0,Cust\ufeffomer No",
			columns: map[string]string{"mailbox": "Address", "account_id": "Cust\ufeffomer No"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read(writeFile(t, "a.csv", tt.header+"\n"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Columns) != len(tt.columns) {
				t.Errorf("Columns = %q, want %q", inv.Columns, tt.columns)
			}
			for k, v := range tt.columns {
				if inv.Columns[k] != v {
					t.Errorf("Columns[%s] = %q, want %q", k, inv.Columns[k], v)
				}
			}
			if !slices.Equal(inv.Ignored, tt.ignored) {
				t.Errorf("Ignored = %q, want %q", inv.Ignored, tt.ignored)
			}
		})
	}
}

func TestReadFatal(t *testing.T) {
	tests := []struct {
		name, file, content string
		opts                Options
		want                string
	}{
		{
			name: "no mailbox column", file: "a.csv",
			content: "\n\nName;Phone;Account\nAnn;1;2\n",
			want:    `a.csv:3: no mailbox column: the header row has "Name", "Phone", "Account"; name the mailbox column one of: email, e-mail, mailbox, login, username, user, address`,
		},
		{
			name: "two mailbox columns", file: "a.csv",
			content: "Email,Name,Login\n",
			want:    `a.csv:1: columns "Email" and "Login" both give the mailbox; keep one and rename or delete the other`,
		},
		{
			name: "two account columns after folding", file: "a.csv",
			content: "email;customer\ufeff;Customer-ID \n",
			want:    `a.csv:1: columns "customer" and "Customer-ID" both give the account_id; keep one and rename or delete the other`,
		},
		{
			name: "empty file", file: "a.csv", content: "",
			want: "a.csv: no header row: the file has no data",
		},
		{
			name: "only blank rows", file: "a.csv", content: "\ufeff\n,,,\n \n",
			want: "a.csv: no header row: the file has no data",
		},
		{
			name: "password needed but absent", file: "a.csv",
			content: "email\nann@example.net\n", opts: Options{NeedPassword: true},
			want: `a.csv:1: no password column, needed for password authentication: the header row has "email"; name it one of: password, pass, pw`,
		},
		{
			name: "invalid UTF-8 in the header", file: "a.csv",
			content: "sep=,\nemail,Stra\xdfe\n",
			want:    `a.csv:2: invalid UTF-8 (byte 0xDF): the file is in another encoding, probably Windows-1252; export it again as "CSV UTF-8" or convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8`,
		},
		{
			name: "invalid UTF-8 in a row after a multi-line field", file: "a.csv",
			content: "email,name\nann@example.net,\"Ann\nSmith\"\nbob@example.net,\"Bob\nM\xfcller\"\n",
			want:    `a.csv:5: name: invalid UTF-8 (byte 0xFC): the file is in another encoding, probably Windows-1252; export it again as "CSV UTF-8" or convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8`,
		},
		{
			name: "UTF-16", file: "a.txt", content: "\xff\xfee\x00m\x00",
			want: `a.txt:1: the file is UTF-16 (Excel "Unicode Text"); save it as "CSV UTF-8 (Comma delimited)"`,
		},
		{
			name: "unterminated quote swallows the rest", file: "a.csv",
			content: "email,name\nann@example.net,\"Ann\nbob@example.net,Bob\n",
			want:    `a.csv:2: a quoted field that starts in this row is still open at line 3; look for a stray " in this row`,
		},
		{
			name: "unknown extension", file: "a.xls", content: "x",
			want: `read inventory a.xls: unknown format ".xls": accepted are .csv, .txt (CSV, UTF-8) and .xlsx (save the .xls workbook as .xlsx)`,
		},
		{
			name: "CSV named .xlsx", file: "a.xlsx", content: "email\nann@example.net\n",
			want: "read inventory a.xlsx: not an .xlsx workbook (an .xls or CSV file renamed?): zip: not a valid zip file",
		},
		{
			name: "sheet with CSV", file: "a.csv", content: "email\n", opts: Options{Sheet: "Accounts"},
			want: `read inventory a.csv: a sheet ("Accounts") was named but a CSV file has no sheets`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read(writeFile(t, tt.file, tt.content), tt.opts)
			if err == nil {
				t.Fatalf("no error; entries %q", briefs(inv.Entries))
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.csv"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
	_, err := Read(writeFile(t, "a.csv", "Email,Login\n"), Options{})
	var re *RowError
	if !errors.As(err, &re) || re.Line != 1 || re.File != "a.csv" {
		t.Errorf("fatal error %v is not a *RowError at a.csv:1", err)
	}
}

func TestReadRowErrors(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		entries  []string // mailboxes accepted
		rejected []string
		rows     int
	}{
		{
			name: "bad mailboxes",
			content: "email,account\n" +
				"ann@example.net,1\n" +
				"jane doe@example.net,2\n" +
				",3\n" +
				"a@b@example.net,4\n" +
				"@example.net,5\n" +
				"carl@,6\n" +
				"tab\tbed@example.net,7\n" +
				"ctl\x07@example.net,8\n" +
				"zero\u200bwidth@example.net,9\n" +
				"nbsp\u00a0inside@example.net,10\n" +
				"plainlogin,11\n",
			entries: []string{"ann@example.net", "plainlogin"},
			rejected: []string{
				`a.csv:3: email: expected a mailbox such as user@example.net, got "jane doe@example.net" (contains a space)`,
				`a.csv:4: email: expected a mailbox such as user@example.net, got an empty cell`,
				`a.csv:5: email: expected a mailbox such as user@example.net, got "a@b@example.net" (contains more than one @)`,
				`a.csv:6: email: expected a mailbox such as user@example.net, got "@example.net" (nothing before the @)`,
				`a.csv:7: email: expected a mailbox such as user@example.net, got "carl@" (no domain after the @)`,
				`a.csv:8: email: expected a mailbox such as user@example.net, got "tab\tbed@example.net" (contains white space U+0009)`,
				`a.csv:9: email: expected a mailbox such as user@example.net, got "ctl\a@example.net" (contains a control character U+0007)`,
				`a.csv:10: email: expected a mailbox such as user@example.net, got "zero\u200bwidth@example.net" (contains an invisible character U+200B)`,
				`a.csv:11: email: expected a mailbox such as user@example.net, got "nbsp\u00a0inside@example.net" (contains a space)`,
			},
			rows: 9,
		},
		{
			name: "line numbers after a multi-line quoted field",
			content: "name,email\n" +
				"\"Ann\n\nSmith\",ann@example.net\n" +
				"\"Bob\nJones\",\n" +
				"Jane,jane doe@example.net\n",
			entries: []string{"ann@example.net"},
			rejected: []string{
				`a.csv:6: email: expected a mailbox such as user@example.net, got an empty cell`,
				`a.csv:7: email: expected a mailbox such as user@example.net, got "jane doe@example.net" (contains a space)`,
			},
			rows: 2,
		},
		{
			name:    "several problems in one row",
			content: "email;created;account\nx y;03/04/2019;1.23457E+18\n",
			rejected: []string{
				`a.csv:2: email: expected a mailbox such as user@example.net, got "x y" (contains a space)`,
				`a.csv:2: account: expected an account number, got "1.23457E+18": the spreadsheet stored it as a number and dropped digits; format the column as Text and enter the numbers again`,
				`a.csv:2: created: expected a date as YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY, YYYY-MM-DD HH:MM[:SS] or RFC 3339 (2019-01-31T08:30:00+01:00), got "03/04/2019" (day and month cannot be told apart)`,
			},
			rows: 1,
		},
		{
			name: "short and long rows",
			content: "email,account,name\n" +
				"ann@example.net,1\n" +
				"bob@example.net,2,Bob,extra\n" +
				"carl@example.net,3,Carl,,\n",
			entries: []string{"carl@example.net"},
			rejected: []string{
				`a.csv:2: expected 3 fields as in the header row (line 1), got 2: a separator ',' is missing or the row is cut short`,
				`a.csv:3: expected 3 fields as in the header row (line 1), got 4: a value containing ',' must be put in double quotes`,
			},
			rows: 2,
		},
		{
			name: "stray quotes on one line",
			content: "email,name\n" +
				"ann@example.net,O\"Brien\n" +
				"bob@example.net,\"Bob\" Jr\n" +
				"carl@example.net,Carl\n",
			entries: []string{"carl@example.net"},
			rejected: []string{
				`a.csv:2: a " in an unquoted value (position 18 on the line): put the whole value in double quotes and double the " inside ("")`,
				`a.csv:3: a quoted value is not closed properly (position 21 on the line): a " inside quotes must be doubled ("")`,
			},
			rows: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read(writeFile(t, "a.csv", tt.content), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range inv.Entries {
				got = append(got, e.Mailbox())
			}
			if !slices.Equal(got, tt.entries) {
				t.Errorf("entries %q, want %q", got, tt.entries)
			}
			if g := errStrings(inv.Rejected); !slices.Equal(g, tt.rejected) {
				t.Errorf("rejected\n got %q\nwant %q", g, tt.rejected)
			}
			if inv.RejectedRows != tt.rows {
				t.Errorf("RejectedRows = %d, want %d", inv.RejectedRows, tt.rows)
			}
		})
	}
}

func TestReadNormalise(t *testing.T) {
	content := "email;account;type;product;access;name;phone\n" +
		"\u00a0Ann.Lee@Example.NET\u00a0;\u00a000420 ; Business\u200b;Pro\u00a0;IMAP; Ann Lee ;\ufeff+41 44 000 00 00\n" +
		"JOE@EXAMPLE.net;;;;;;\n" +
		"h\u00e9l\u00e8ne@\u00c9COLE.example;;;;;;\n"
	inv, err := Read(writeFile(t, "inv.csv", content), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Ann.Lee@example.net|00420|Business|Pro||IMAP|Ann Lee|+41 44 000 00 00||inv.csv:2",
		"JOE@example.net|JOE@example.net||||||||inv.csv:3",
		"h\u00e9l\u00e8ne@\u00e9cole.example|h\u00e9l\u00e8ne@\u00e9cole.example||||||||inv.csv:4",
	}
	if got := briefs(inv.Entries); !slices.Equal(got, want) {
		t.Errorf("entries\n got %q\nwant %q", got, want)
	}
}

func TestReadDuplicates(t *testing.T) {
	content := "email,account,product,created\n" +
		"Ann@Example.net,00420,Pro,2019-01-03\n" +
		"bob@example.net,7,Basic,\n" +
		" ann@example.NET\u00a0,00420,Pro,2019-01-03\n" +
		"ANN@example.net,0420,Basic,2019-01-04\n" +
		"bob@example.net,,Basic,\n" +
		"carl@example.net,8,\"Pro\nPlus\",\n" +
		"carl@example.net,8,Pro,\n"
	inv, err := Read(writeFile(t, "dup.csv", content), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Duplicate{
		{Mailbox: "Ann@example.net", Source: "dup.csv:2", Duplicate: "dup.csv:4"},
		{Mailbox: "Ann@example.net", Source: "dup.csv:2", Duplicate: "dup.csv:5",
			Conflict: "account_id 00420 vs 0420; product Pro vs Basic; created 2019-01-03 vs 2019-01-04"},
		{Mailbox: "bob@example.net", Source: "dup.csv:3", Duplicate: "dup.csv:6",
			Conflict: `account_id 7 vs ""`},
		// A line break in a value is quoted, so the warning stays one line.
		{Mailbox: "carl@example.net", Source: "dup.csv:7", Duplicate: "dup.csv:9",
			Conflict: `product "Pro\nPlus" vs Pro`},
	}
	if !slices.Equal(inv.Duplicates, want) {
		t.Errorf("duplicates\n got %+v\nwant %+v", inv.Duplicates, want)
	}
	if got := briefs(inv.Entries); len(got) != 3 || got[0] != "Ann@example.net|00420||Pro|2019-01-03T00:00:00Z|||||dup.csv:2" {
		t.Errorf("entries %q", got)
	}
}

func TestParseDate(t *testing.T) {
	const formats = "expected a date as YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY, YYYY-MM-DD HH:MM[:SS] or RFC 3339 (2019-01-31T08:30:00+01:00), got "
	tests := []struct {
		in, want, err string
	}{
		{in: "2019-01-31", want: "2019-01-31T00:00:00Z"},
		{in: "2019/01/31", want: "2019-01-31T00:00:00Z"},
		{in: "31.01.2019", want: "2019-01-31T00:00:00Z"},
		{in: "3.1.2019", want: "2019-01-03T00:00:00Z"},
		{in: "2019-01-31 08:30", want: "2019-01-31T08:30:00Z"},
		{in: "2019-01-31 08:30:15", want: "2019-01-31T08:30:15Z"},
		{in: "2019-01-31T08:30:00+01:00", want: "2019-01-31T08:30:00+01:00"},
		{in: "2019-01-31t08:30:00.5Z", want: "2019-01-31T08:30:00Z"},
		{in: "03/04/2019", err: formats + `"03/04/2019" (day and month cannot be told apart)`},
		{in: "3/4/19", err: formats + `"3/4/19" (day and month cannot be told apart)`},
		{in: "2019-02-30", err: formats + `"2019-02-30" (not a valid date)`},
		{in: "01.03.19", err: formats + `"01.03.19" (not a valid date)`},
		{in: "43468", err: formats + `"43468"`},
		{in: "Jan 3 2019", err: formats + `"Jan 3 2019"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDate(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := got.Format(time.RFC3339); s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestReadPassword(t *testing.T) {
	content := "email,pw\nann@example.net, s3cret \nbob@example.net,\ncarl@example.net,x\nAnn@example.net,other\n"
	tests := []struct {
		name     string
		need     bool
		want     []string
		rejected []string
		ignored  []string
		conflict string
	}{
		{
			name:    "not needed: never read",
			want:    []string{"ann@example.net|ann@example.net||||||||a.csv:2", "bob@example.net|bob@example.net||||||||a.csv:3", "carl@example.net|carl@example.net||||||||a.csv:4"},
			ignored: []string{"pw"},
		},
		{
			name:     "needed: kept as written, empty rejected",
			need:     true,
			want:     []string{"ann@example.net|ann@example.net||||||| s3cret |a.csv:2", "carl@example.net|carl@example.net|||||||x|a.csv:4"},
			rejected: []string{"a.csv:3: pw: expected the mailbox's password (password authentication), got an empty cell"},
			conflict: "password differs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read(writeFile(t, "a.csv", content), Options{NeedPassword: tt.need})
			if err != nil {
				t.Fatal(err)
			}
			if got := briefs(inv.Entries); !slices.Equal(got, tt.want) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.want)
			}
			if got := errStrings(inv.Rejected); !slices.Equal(got, tt.rejected) {
				t.Errorf("rejected %q, want %q", got, tt.rejected)
			}
			if !slices.Equal(inv.Ignored, tt.ignored) {
				t.Errorf("Ignored %q, want %q", inv.Ignored, tt.ignored)
			}
			if len(inv.Duplicates) != 1 || inv.Duplicates[0].Duplicate != "a.csv:5" || inv.Duplicates[0].Conflict != tt.conflict {
				t.Errorf("duplicates %+v, want a.csv:5 with conflict %q", inv.Duplicates, tt.conflict)
			}
			if _, ok := inv.Columns[FieldPassword]; ok != tt.need {
				t.Errorf("Columns has password: %v, want %v", ok, tt.need)
			}
		})
	}
}
