package inventory

import (
	"fmt"
	"strings"
	"unicode"
)

// Canonical field names, the keys of Inventory.Columns.
const (
	FieldMailbox      = "mailbox"
	FieldAccountID    = "account_id"
	FieldCustomerType = "customer_type"
	FieldProduct      = "product"
	FieldCreated      = "created"
	FieldAccess       = "access"
	FieldContactName  = "contact_name"
	FieldContactPhone = "contact_phone"
	FieldPassword     = "password"
)

type field int

const (
	fMailbox field = iota
	fAccountID
	fCustomerType
	fProduct
	fCreated
	fAccess
	fContactName
	fContactPhone
	fPassword
	numFields
)

var fieldNames = [numFields]string{
	FieldMailbox, FieldAccountID, FieldCustomerType, FieldProduct, FieldCreated,
	FieldAccess, FieldContactName, FieldContactPhone, FieldPassword,
}

// aliases are the header names accepted for each field, as documented in
// doc.go. They are compared after headerKey.
var aliases = [numFields][]string{
	fMailbox:      {"email", "e-mail", "mailbox", "login", "username", "user", "address"},
	fAccountID:    {"account", "account_id", "accountid", "customer_id", "customer", "customer_no", "account_number"},
	fCustomerType: {"type", "customer_type", "segment", "customer_segment", "category"},
	fProduct:      {"product", "plan", "package", "tariff"},
	fCreated:      {"created", "created_at", "opened", "start_date", "since", "activation_date"},
	fAccess:       {"access", "protocol", "client", "access_method", "last_access_protocol"},
	fContactName:  {"contact", "contact_name", "name", "customer_name"},
	fContactPhone: {"phone", "contact_phone", "telephone", "mobile", "tel"},
	fPassword:     {"password", "pass", "pw"},
}

// lookupHeader returns the field a header names, or false.
func lookupHeader(h string) (field, bool) {
	k := headerKey(h)
	if k == "" {
		return 0, false
	}
	for f, names := range aliases {
		for _, n := range names {
			if headerKey(n) == k {
				return field(f), true
			}
		}
	}
	return 0, false
}

// headerKey folds a header name for matching: lowercase, without white space
// (any kind), '-', '_' and invisible characters such as a stray BOM.
func headerKey(h string) string {
	var b strings.Builder
	for _, r := range h {
		if r == '-' || r == '_' || isTrimmed(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// layout says where each field is in a row.
type layout struct {
	col    [numFields]int    // cell index, -1 when the field has no column
	header [numFields]string // header as written
	label  [numFields]string // how errors name the column
	width  int               // number of header cells
}

// cellLabel names header cell i in messages: the header for CSV, column
// letter and header for XLSX.
type cellLabel func(i int, header string) string

// mapHeader matches a header row to fields. The errors are fatal: they are
// returned as *RowError naming the header line.
func mapHeader(file string, line int, cells []string, needPassword bool, label cellLabel) (*layout, []string, error) {
	lay := &layout{width: len(cells)}
	for f := range lay.col {
		lay.col[f] = -1
	}
	var ignored, found []string
	for i, c := range cells {
		h := clean(c)
		if h == "" {
			continue
		}
		found = append(found, fmt.Sprintf("%q", h))
		f, ok := lookupHeader(h)
		if !ok || (f == fPassword && !needPassword) {
			ignored = append(ignored, h)
			continue
		}
		if prev := lay.col[f]; prev >= 0 {
			return nil, nil, &RowError{File: file, Line: line, Msg: fmt.Sprintf(
				"columns %s and %s both give the %s; keep one and rename or delete the other",
				describe(label, prev, lay.header[f]), describe(label, i, h), fieldNames[f])}
		}
		lay.col[f], lay.header[f], lay.label[f] = i, h, label(i, h)
	}
	if lay.col[fMailbox] < 0 {
		return nil, nil, &RowError{File: file, Line: line, Msg: fmt.Sprintf(
			"no mailbox column: the header row has %s; name the mailbox column one of: %s",
			listOrNone(found), strings.Join(aliases[fMailbox], ", "))}
	}
	if needPassword && lay.col[fPassword] < 0 {
		return nil, nil, &RowError{File: file, Line: line, Msg: fmt.Sprintf(
			"no password column, needed for password authentication: the header row has %s; name it one of: %s",
			listOrNone(found), strings.Join(aliases[fPassword], ", "))}
	}
	return lay, ignored, nil
}

// describe names a header cell in a message: quoted when the label is the
// bare header (CSV), else the label as is ("C (Email)").
func describe(label cellLabel, i int, h string) string {
	if l := label(i, h); l != h {
		return l
	}
	return fmt.Sprintf("%q", h)
}

func listOrNone(quoted []string) string {
	if len(quoted) == 0 {
		return "no names"
	}
	return strings.Join(quoted, ", ")
}

// columns is the Inventory.Columns map of a layout.
func (lay *layout) columns() map[string]string {
	m := make(map[string]string)
	for f, i := range lay.col {
		if i >= 0 {
			m[fieldNames[f]] = lay.header[f]
		}
	}
	return m
}
