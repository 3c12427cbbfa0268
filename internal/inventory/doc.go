// Package inventory reads the account inventory exported from billing (CSV or
// XLSX) into normalised, de-duplicated entries, one per mailbox.
//
// # Formats
//
// The format follows the file name's extension: .csv and .txt are read as
// CSV, .xlsx as an Excel workbook. Anything else is refused.
//
// CSV files must be UTF-8, with or without a byte order mark. The separator
// is a comma, a semicolon or a tab, detected from the header line, or given
// explicitly by a first line "sep=;" as Excel writes it. Fields may be quoted
// and quoted fields may span lines. Every row must have as many fields as the
// header row.
//
// XLSX workbooks are read from the first sheet unless a sheet is named. Cells
// are read as displayed: an account number formatted "00000" holding 420
// reads as "00420". Identifiers are always kept as text.
//
// # Columns
//
// The header is the first non-empty row. Header names are matched without
// regard to case, spaces, '-' and '_', so "E-Mail", "e_mail" and "EMAIL" are
// all the email column. Accepted names, by field:
//
//	mailbox (required)  email, e-mail, mailbox, login, username, user, address
//	account_id          account, account_id, accountid, customer_id, customer,
//	                    customer_no, account_number
//	customer_type       type, customer_type, segment, customer_segment, category
//	product             product, plan, package, tariff
//	created             created, created_at, opened, start_date, since,
//	                    activation_date
//	access              access, protocol, client, access_method,
//	                    last_access_protocol
//	contact_name        contact, contact_name, name, customer_name
//	contact_phone       phone, contact_phone, telephone, mobile, tel
//	password            password, pass, pw (read only with --auth password,
//	                    and then required)
//
// Other columns are ignored. Two columns naming the same field are an error.
//
// # Values
//
// Every value is trimmed of white space, including non-breaking and
// zero-width spaces; passwords are kept exactly as written. The domain part
// of a mailbox is lowercased, the local part is kept as written because IMAP
// logins may be case-sensitive. A mailbox must be non-empty, without inner
// white space or control characters, with at most one '@', something before
// it and a domain after it. An empty account_id defaults to the mailbox.
//
// Dates in the created column may be written 2019-01-31, 2019/01/31,
// 31.01.2019, 2019-01-31 08:30, 2019-01-31 08:30:00 or as RFC 3339
// (2019-01-31T08:30:00+01:00); XLSX date cells are read from their serial
// value. Dates without a zone are taken as UTC. Forms such as 03/04/2019 are
// refused because day and month cannot be told apart.
//
// Entirely empty rows are skipped. A row with a bad value is rejected and
// reported with its file, line and column. Rows whose mailboxes differ only
// by case or surrounding white space are duplicates: the first is kept and
// the others are reported, with the fields in which they disagree.
package inventory
