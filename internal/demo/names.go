package demo

import "strings"

// Name material for the synthetic inventory. Several names are deliberately
// non-ASCII so that every report path has to carry UTF-8 intact.
var (
	firstNames = []string{
		"Jürgen", "Anna", "Sören", "Zoë", "Renée", "Łukasz", "Ayşe", "Thomas",
		"Stefanie", "Björn", "Maria", "Klaus", "Ingrid", "Peter", "Fatma",
		"Jörg", "Sabine", "Michael", "Gülşen", "Heike",
	}
	lastNames = []string{
		"Müller", "Schmidt", "Weiß", "Schröder", "Wójcik", "Yılmaz", "Köhler",
		"Becker", "Fischer", "Hoffmann", "Groß", "Krüger", "Dupont", "Nowak",
		"Öztürk", "Wagner", "Schäfer", "Bauer", "Lehmann", "Jäger",
	}
	// companySlugs become customer domains (slug + ".example"); the first
	// one belongs to account 00420.
	companySlugs = []string{
		"mueller-bau", "baeckerei-schmidt", "kanzlei-weber", "autohaus-fischer",
		"zahnarztpraxis-wagner", "elektro-becker", "hotel-sonne",
		"steuerbuero-hoffmann", "schreinerei-koch", "blumen-richter",
		"physio-lehmann", "druckerei-jaeger",
	}
	// businessLocalParts are role and person addresses of a small business.
	businessLocalParts = []string{
		"info", "buchhaltung", "vertrieb", "kontakt", "werkstatt", "office",
		"einkauf", "personal",
	}
	ispDomains       = []string{"isp.example", "mail.isp.example"}
	businessProducts = []string{"Business Mail Pro", "Business Mail Basic", "Office Mail 50"}
	homeProducts     = []string{"Home Basic", "Home Plus", "Home Premium"}
	areaCodes        = []int{30, 89, 40, 221, 69, 711, 351, 151, 160, 171, 176}
)

// asciiFold spells a name in the ASCII letters a mail address local part
// would use ("Jürgen" -> "juergen", "Łukasz" -> "lukasz").
func asciiFold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case 'ä':
			b.WriteString("ae")
		case 'ö', 'ø':
			b.WriteString("oe")
		case 'ü':
			b.WriteString("ue")
		case 'ß':
			b.WriteString("ss")
		case 'é', 'è', 'ë':
			b.WriteByte('e')
		case 'ł':
			b.WriteByte('l')
		case 'ş':
			b.WriteByte('s')
		case 'ı':
			b.WriteByte('i')
		case 'ó':
			b.WriteByte('o')
		default:
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}
