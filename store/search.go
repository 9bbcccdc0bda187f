package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SearchTerm is one blind index of a case: a keyed hash of a normalised value.
type SearchTerm struct {
	CaseID  string `gorm:"primaryKey"`
	Kind    string `gorm:"primaryKey"`
	Hash    string `gorm:"primaryKey"`
	CaseSeq int64  // the case's seq: a term's cases are read newest first from (hash, kind, case_seq)
}

// TableName keeps GORM on the migrated table.
func (SearchTerm) TableName() string { return "case_search_terms" }

// The kinds of search terms.
const (
	TermName     = "name"      // one token of a name (given or family, of anyone in the household)
	TermFullName = "full_name" // given and family name together
	TermPhone    = "phone"     // E.164
	TermDocument = "document"  // a travel document's number
)

// blindIndexer makes the keyed hashes of search terms (codec.Sealer does).
type blindIndexer interface {
	BlindIndex(kind, value string) string
}

// blindIndex hashes a normalised value with the sealer's search key. A store
// without a sealer (tests) hashes without a key.
func (s *Store) blindIndex(kind, value string) string {
	if b, ok := s.sealer.(blindIndexer); ok {
		return b.BlindIndex(kind, value)
	}
	sum := sha256.Sum256([]byte("unkeyed\x00" + kind + "\x00" + value))
	return hex.EncodeToString(sum[:])
}

// BlindIndex is the hash a search for this normalised value of a kind looks up.
func (s *Store) BlindIndex(kind, value string) string { return s.blindIndex(kind, value) }

// letters that Unicode does not decompose into a base letter and a mark.
var foldLetters = strings.NewReplacer("ß", "ss", "æ", "ae", "œ", "oe", "ø", "o", "ł", "l", "đ", "d", "ð", "d",
	"þ", "th", "ı", "i", "ŋ", "n")

// FoldName normalises a name for search: lower case, accents removed (Unicode
// decomposition, marks dropped), apostrophes dropped (N'Diaye: ndiaye), any
// other character that is not a letter or digit a space, spaces collapsed.
func FoldName(s string) string {
	s = foldLetters.Replace(strings.ToLower(s))
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == '\'' || r == '’' || r == '‘' || r == 'ʼ' || r == '`':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// NameTokens are a name's folded tokens, each once.
func NameTokens(s string) []string {
	var out []string
	for _, t := range strings.Fields(FoldName(s)) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalisePhone returns a phone number in E.164 (+ and digits), accepting
// spaces, dashes, dots, slashes and brackets, and 00 for +; false if it is not one.
func NormalisePhone(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t-./()", r) {
			return -1
		}
		return r
	}, s)
	if rest, ok := strings.CutPrefix(s, "00"); ok {
		s = "+" + rest
	}
	return s, e164.MatchString(s)
}

// NormaliseDocumentNumber upper-cases a document number and drops everything
// but letters and digits (spaces, dashes, dots...).
func NormaliseDocumentNumber(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToUpper(r)
		}
		return -1
	}, s)
}

// searchable is what of a person the blind indexes cover.
type searchable struct {
	GivenName      string `json:"given_name"`
	FamilyName     string `json:"family_name"`
	Phone          string `json:"phone"`
	TravelDocument *struct {
		Number string `json:"number"`
	} `json:"travel_document"`
}

// searchTerms are a case's blind indexes, from its beneficiary's and
// household's JSON (in the clear): the names of everyone, the beneficiary's
// phone and travel document.
func (s *Store) searchTerms(caseID string, seq int64, beneficiary, household string) []SearchTerm {
	var b searchable
	_ = json.Unmarshal([]byte(beneficiary), &b) // an anonymised case has none
	var hh []searchable
	_ = json.Unmarshal([]byte(household), &hh)
	seen := map[SearchTerm]bool{}
	var out []SearchTerm
	add := func(kind, value string) {
		if value == "" {
			return
		}
		t := SearchTerm{CaseID: caseID, CaseSeq: seq, Kind: kind, Hash: s.blindIndex(kind, value)}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, p := range append([]searchable{b}, hh...) {
		for _, t := range NameTokens(p.GivenName + " " + p.FamilyName) {
			add(TermName, t)
		}
		add(TermFullName, FoldName(p.GivenName+" "+p.FamilyName))
	}
	if phone, ok := NormalisePhone(b.Phone); ok {
		add(TermPhone, phone)
	}
	if b.TravelDocument != nil {
		add(TermDocument, NormaliseDocumentNumber(b.TravelDocument.Number))
	}
	return out
}

// SearchTerms are the blind indexes a case with this beneficiary and household
// (their JSON in the clear) gets: what registration and corrections write, for
// those who load cases in bulk (the benchmark's seeding).
func (s *Store) SearchTerms(caseID string, seq int64, beneficiary, household string) []SearchTerm {
	return s.searchTerms(caseID, seq, beneficiary, household)
}

// replaceSearchTerms rewrites a case's blind indexes within tx.
func replaceSearchTerms(tx *gorm.DB, caseID string, terms []SearchTerm) error {
	if err := tx.Where("case_id = ?", caseID).Delete(&SearchTerm{}).Error; err != nil {
		return err
	}
	if len(terms) == 0 {
		return nil
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&terms).Error
}

// BackfillSearchTerms writes the blind indexes of cases that have none (cases
// registered before search existed: a migration cannot compute keyed hashes),
// and returns how many cases it indexed. Anonymised cases are left without.
func (s *Store) BackfillSearchTerms(ctx context.Context) (int, error) {
	const batch = 200
	var after int64
	done := 0
	for {
		var cases []Case
		err := s.db.WithContext(ctx).Where("seq > ? AND anonymised_at IS NULL AND NOT EXISTS "+
			"(SELECT 1 FROM case_search_terms t WHERE t.case_id = cases.id)", after).
			Order("seq").Limit(batch).Find(&cases).Error
		if err != nil || len(cases) == 0 {
			return done, err
		}
		for i := range cases {
			c := &cases[i]
			after = c.Seq
			if err := s.open(c); err != nil {
				return done, err
			}
			terms := s.searchTerms(c.ID, c.Seq, c.Beneficiary, c.Household)
			if len(terms) == 0 {
				continue
			}
			if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&terms).Error; err != nil {
				return done, err
			}
			done++
		}
	}
}

// SearchQuery is what a search looks for, normalised; every part given must match.
type SearchQuery struct {
	ReferencePrefix string   // upper case, letters, digits and dashes only
	NameTokens      []string // folded; a case matches if it has every one
	Phone           string   // E.164
	DocumentNumber  string   // normalised
}

// SearchCases returns one page of the cases that match q and the filter (its
// office scope and approver), newest first: the list's shape.
func (s *Store) SearchCases(ctx context.Context, f Filter, q SearchQuery) (Page, error) {
	sql, args, err := s.searchSQL(f, q)
	if err != nil {
		return Page{}, err
	}
	return s.page(ctx, f.Limit, sql, args...)
}

// SearchStatement is SearchCases' statement as it is sent (the plan tests and
// the benchmark explain it).
func (s *Store) SearchStatement(f Filter, q SearchQuery) (Statement, error) {
	sql, args, err := s.searchSQL(f, q)
	if err != nil {
		return Statement{}, err
	}
	return s.Render("search", sql, args...), nil
}

// searchSQL is SearchCases' statement. Each term
// given is a join on its blind index by the case's seq: the page's order is the
// terms' index order too, so the database can walk the rarest term's cases
// newest first and probe the other terms and the case, stopping when the page
// is full, whatever the size of the case file.
func (s *Store) searchSQL(f Filter, q SearchQuery) (string, []any, error) {
	c := s.where(f, false)[0]
	from := "cases"
	var args []any
	term := func(kind, value string) {
		t := "t" + strconv.Itoa(len(args)/2)
		from += " JOIN case_search_terms " + t + " ON " + t + ".case_seq = cases.seq AND " + t + ".hash = ? AND " + t + ".kind = ?"
		args = append(args, s.blindIndex(kind, value), kind)
	}
	if q.ReferencePrefix != "" {
		c.add("reference LIKE ?", q.ReferencePrefix+"%")
	}
	for _, t := range q.NameTokens {
		term(TermName, t)
	}
	if q.Phone != "" {
		term(TermPhone, q.Phone)
	}
	if q.DocumentNumber != "" {
		term(TermDocument, q.DocumentNumber)
	}
	if f.Cursor != "" {
		after, err := parseCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		c.add("cases.seq < ?", after)
	}
	// Ordered by the first term's seq when there is one (the same order: SQLite
	// then sees that its index walk needs no sort).
	order := "cases.seq"
	if len(args) > 0 {
		order = "t0.case_seq"
	}
	sql := "SELECT " + listColumns() + " FROM " + from + c.where() + " ORDER BY " + order + " DESC LIMIT ?"
	return sql, append(append(args, c.args...), f.Limit+1), nil
}

// eraseCaseFile removes what the case file keeps of a person beside the case
// row, when the case is anonymised: its search terms, notes and documents
// (their bytes, keys and names), remembered answers, and its registry outbox
// (sent: DueForAnonymisation waits for it). The timeline keeps that a note or document
// was added (without their content).
func eraseCaseFile(tx *gorm.DB, caseID string) error {
	for _, m := range []any{&SearchTerm{}, &Note{}, &Document{}, &IdempotentRequest{}, &RegistryOutbox{}} {
		if err := tx.Where("case_id = ?", caseID).Delete(m).Error; err != nil {
			return err
		}
	}
	// What people wrote with their actions; the lines themselves stay.
	return tx.Model(&TimelineEvent{}).Where("case_id = ? AND text <> ''", caseID).Update("text", "").Error
}
