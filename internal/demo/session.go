package demo

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"
)

const delimiter = '/'

// session is one connection's state. imapserver calls its methods from the
// connection's goroutine only, one at a time.
type session struct {
	b        *backend
	u        *user   // nil until logged in
	sel      *folder // nil unless a folder is selected
	readOnly bool    // sel was opened with EXAMINE
}

var (
	_ imapserver.SessionNamespace = (*session)(nil)
	_ imapserver.SessionSASL      = (*session)(nil)
)

func (s *session) Close() error {
	s.b.stats.active.Add(-1)
	return nil
}

func (s *session) login(authzid, authcid, password string) error {
	u, err := s.b.authenticate(authzid, authcid, password)
	if err != nil {
		s.b.stats.failedLogins.Add(1)
		return err
	}
	s.b.stats.logins.Add(1)
	s.u = u
	return nil
}

// Login handles LOGIN: "mailbox*master" with the master password, or the
// mailbox with its own password.
func (s *session) Login(username, password string) error {
	return s.login("", username, password)
}

func (s *session) AuthenticateMechanisms() []string { return []string{sasl.Plain} }

// Authenticate handles AUTHENTICATE PLAIN (RFC 4616), with or without an
// authorization identity.
func (s *session) Authenticate(mech string) (sasl.Server, error) {
	if !strings.EqualFold(mech, sasl.Plain) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported authentication mechanism"}
	}
	return plainServer{sasl.NewPlainServer(s.login)}, nil
}

func readOnlyError() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "The demo server is read-only"}
}

func (s *session) refuseWrite() error {
	s.b.stats.writes.Add(1)
	return readOnlyError()
}

func notSupported(what string) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: what + " is not supported"}
}

// folder finds a selectable folder of the logged-in mailbox.
func (s *session) folder(name string) (*folder, error) {
	if isInbox(name) {
		name = FolderInbox
	}
	for i := range s.u.folders {
		f := &s.u.folders[i]
		if f.name != name {
			continue
		}
		if f.noSelect {
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Mailbox isn't selectable"}
		}
		return f, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "Mailbox doesn't exist: " + name}
}

func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if options.CondStore {
		return nil, notSupported("CONDSTORE")
	}
	f, err := s.folder(name)
	if err != nil {
		return nil, err
	}
	if options.ReadOnly {
		s.b.stats.examines.Add(1)
	} else {
		s.b.stats.selects.Add(1)
	}
	s.sel, s.readOnly = f, options.ReadOnly
	var firstUnseen uint32
	for i := range f.times {
		if !hasFlag(s.b.flags(f, i), imap.FlagSeen) {
			firstUnseen = uint32(i + 1)
			break
		}
	}
	return &imap.SelectData{
		Flags: []imap.Flag{imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagSeen, imap.FlagDraft},
		// No flag can be changed: STORE is refused.
		PermanentFlags:    []imap.Flag{},
		NumMessages:       uint32(len(f.times)),
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           f.uidNext(),
		UIDValidity:       f.uidValidity,
	}, nil
}

func (s *session) Unselect() error {
	s.sel = nil
	return nil
}

func (s *session) Create(string, *imap.CreateOptions) error { return s.refuseWrite() }
func (s *session) Delete(string) error                      { return s.refuseWrite() }
func (s *session) Rename(string, string, *imap.RenameOptions) error {
	return s.refuseWrite()
}
func (s *session) Subscribe(string) error   { return s.refuseWrite() }
func (s *session) Unsubscribe(string) error { return s.refuseWrite() }
func (s *session) Append(string, imap.LiteralReader, *imap.AppendOptions) (*imap.AppendData, error) {
	return nil, s.refuseWrite()
}
func (s *session) Store(*imapserver.FetchWriter, imap.NumSet, *imap.StoreFlags, *imap.StoreOptions) error {
	return s.refuseWrite()
}
func (s *session) Copy(imap.NumSet, string) (*imap.CopyData, error) {
	return nil, s.refuseWrite()
}

// Expunge succeeds with nothing to do: no message is \Deleted and none can
// become so. CLOSE calls it too.
func (s *session) Expunge(*imapserver.ExpungeWriter, *imap.UIDSet) error { return nil }

// Poll and Idle have nothing to report: the mailboxes never change.
func (s *session) Poll(*imapserver.UpdateWriter, bool) error { return nil }

func (s *session) Idle(_ *imapserver.UpdateWriter, stop <-chan struct{}) error {
	<-stop
	return nil
}

func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: delimiter}}}, nil
}

func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	f, err := s.folder(name)
	if err != nil {
		return nil, err
	}
	return s.b.status(s.u, f, options), nil
}

// List answers LIST and LSUB, with the LIST-EXTENDED selection and return
// options (RFC 5258) and LIST-STATUS (RFC 5819). Every selectable folder is
// subscribed; a \Noselect parent is not.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter (RFC 9051 6.3.9).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delimiter})
	}
	for i := range s.u.folders {
		f := &s.u.folders[i]
		if !matchPatterns(f.name, ref, patterns) {
			continue
		}
		subscribed := !f.noSelect
		data := imap.ListData{Mailbox: f.name, Delim: delimiter}
		if options.SelectSubscribed && !subscribed {
			if !options.SelectRecursiveMatch || !f.children {
				continue
			}
			// A parent of subscribed folders (RFC 5258 3.5).
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if options.SelectSpecialUse && f.specialUse == "" {
			continue
		}
		if f.noSelect {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		}
		if f.children {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if f.specialUse != "" {
			data.Attrs = append(data.Attrs, f.specialUse)
		}
		if options.ReturnStatus != nil && !f.noSelect {
			data.Status = s.b.status(s.u, f, options.ReturnStatus)
		}
		if err := w.WriteList(&data); err != nil {
			return err
		}
	}
	return nil
}

func matchPatterns(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if name == FolderInbox && ref == "" && isInbox(p) || imapserver.MatchList(name, delimiter, ref, p) {
			return true
		}
	}
	return false
}

// Search answers SEARCH and UID SEARCH, with ESEARCH return options
// (RFC 4731). Dates compare in the server's zone (RFC 9051 6.4.4).
func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	if options.ReturnSave {
		return nil, notSupported("SEARCHRES")
	}
	if err := checkCriteria(criteria); err != nil {
		return nil, err
	}
	f := s.sel
	var (
		data imap.SearchData
		seqs imap.SeqSet
		uids imap.UIDSet
	)
	for i := range f.times {
		if !s.b.match(s.u, f, i, criteria) {
			continue
		}
		num := uint32(i + 1)
		if kind == imapserver.NumKindUID {
			num = uint32(f.uid(i))
			uids.AddNum(f.uid(i))
		} else {
			seqs.AddNum(num)
		}
		if data.Count == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	return &data, nil
}

func checkCriteria(c *imap.SearchCriteria) error {
	if c.ModSeq != nil {
		return notSupported("CONDSTORE")
	}
	for _, set := range c.SeqNum {
		if imap.IsSearchRes(set) {
			return notSupported("SEARCHRES")
		}
	}
	for _, set := range c.UID {
		if imap.IsSearchRes(set) {
			return notSupported("SEARCHRES")
		}
	}
	for i := range c.Not {
		if err := checkCriteria(&c.Not[i]); err != nil {
			return err
		}
	}
	for i := range c.Or {
		for j := range c.Or[i] {
			if err := checkCriteria(&c.Or[i][j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Fetch answers FETCH and UID FETCH. Message text is made on demand from the
// folder, the index and the INTERNALDATE; nothing is stored.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	if options.ModSeq || options.ChangedSince != 0 {
		return notSupported("CONDSTORE")
	}
	if imap.IsSearchRes(numSet) {
		return notSupported("SEARCHRES")
	}
	f := s.sel
	if !s.readOnly {
		for _, bs := range options.BodySection {
			if !bs.Peek {
				// A real server would set \Seen here (RFC 9051 6.4.5).
				s.b.stats.writes.Add(1)
				break
			}
		}
	}
	for i := range f.times {
		if !f.contains(numSet, i) {
			continue
		}
		if err := s.b.fetch(w, s.u, f, i, options); err != nil {
			return err
		}
	}
	return nil
}

// contains reports whether message i is in numSet, "*" being the last
// message (RFC 9051 9, seq-number).
func (f *folder) contains(numSet imap.NumSet, i int) bool {
	n := len(f.times)
	if n == 0 {
		return false
	}
	switch set := numSet.(type) {
	case imap.SeqSet:
		seq, last := uint32(i+1), uint32(n)
		for _, r := range set {
			if inRange(seq, r.Start, r.Stop, last) {
				return true
			}
		}
	case imap.UIDSet:
		uid, last := uint32(f.uid(i)), uint32(f.uid(n-1))
		for _, r := range set {
			if inRange(uid, uint32(r.Start), uint32(r.Stop), last) {
				return true
			}
		}
	}
	return false
}

func inRange(num, start, stop, last uint32) bool {
	if start == 0 {
		start = last
	}
	if stop == 0 {
		stop = last
	}
	if start > stop {
		start, stop = stop, start
	}
	return num >= start && num <= stop
}
