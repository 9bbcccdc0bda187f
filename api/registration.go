package api

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/homeward/homeward/contract"
)

// Registration is the body of POST /api/v1/cases: the case file as the
// caseworker registers it. It stays in the database; the workflow gets none of
// the personal fields.
type Registration struct {
	Beneficiary     Beneficiary       `json:"beneficiary"`
	Household       []HouseholdMember `json:"household"`
	Vulnerabilities []string          `json:"vulnerabilities"`
	HostCountry     string            `json:"host_country"`
	CountryOfReturn string            `json:"country_of_return"`
	AreaOfReturn    Area              `json:"area_of_return"`
	SendingOffice   string            `json:"sending_office"`
	ReceivingOffice string            `json:"receiving_office"`
	Programme       string            `json:"programme"`
	Consent         Consent           `json:"consent"`
}

// Beneficiary is the principal applicant.
type Beneficiary struct {
	GivenName      string          `json:"given_name"`
	FamilyName     string          `json:"family_name"`
	DateOfBirth    string          `json:"date_of_birth"`
	Sex            string          `json:"sex"`
	Nationality    string          `json:"nationality"`
	Languages      []string        `json:"languages"`
	Phone          string          `json:"phone,omitempty"`
	TravelDocument *TravelDocument `json:"travel_document,omitempty"`
}

// TravelDocument is the passport or laissez-passer.
type TravelDocument struct {
	Number string `json:"number"`
	Expiry string `json:"expiry"`
}

// HouseholdMember travels with the principal applicant.
type HouseholdMember struct {
	GivenName          string `json:"given_name"`
	FamilyName         string `json:"family_name,omitempty"`
	Relationship       string `json:"relationship"`
	DateOfBirth        string `json:"date_of_birth"`
	UnaccompaniedMinor bool   `json:"unaccompanied_minor,omitempty"`
}

// Area is where in the country of return the returnee goes.
type Area struct {
	Region   string `json:"region"`
	District string `json:"district"`
}

// Consent is the data-protection consent: without it there is no case.
type Consent struct {
	DataProcessing bool      `json:"data_processing"`
	GivenAt        time.Time `json:"given_at"`
	Purpose        string    `json:"purpose,omitempty"`
}

var (
	e164RE   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	officeRE = regexp.MustCompile(`^[A-Z]{2}-[A-Z]{3}$`)
)

const dateLayout = "2006-01-02"

// Validate checks the registration: required fields, ISO codes, E.164 phones,
// dates, consent and a known programme.
func (r Registration) Validate(now time.Time, programmes func(string) bool) []contract.FieldError {
	var p []contract.FieldError
	add := func(field, format string, args ...any) {
		p = append(p, contract.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	text := func(field, v string, max int) {
		if v == "" || len(v) > max {
			add(field, "is required (at most %d characters)", max)
		}
	}
	country := func(field, v string) {
		if !iso3166[v] {
			add(field, "must be an ISO 3166-1 alpha-2 country code, such as GN")
		}
	}
	pastDate := func(field, v string) (time.Time, bool) {
		d, err := time.Parse(dateLayout, v)
		switch {
		case err != nil:
			add(field, "must be a date YYYY-MM-DD")
			return d, false
		case d.After(now):
			add(field, "must not be in the future")
			return d, false
		case d.Before(now.AddDate(-130, 0, 0)):
			add(field, "is implausibly far in the past")
			return d, false
		}
		return d, true
	}
	b := r.Beneficiary
	text("beneficiary.given_name", b.GivenName, 200)
	text("beneficiary.family_name", b.FamilyName, 200)
	pastDate("beneficiary.date_of_birth", b.DateOfBirth)
	if !slices.Contains([]string{"female", "male", "other", "unknown"}, b.Sex) {
		add("beneficiary.sex", "must be one of female, male, other, unknown")
	}
	country("beneficiary.nationality", b.Nationality)
	for i, l := range b.Languages {
		if len(l) < 2 || len(l) > 8 {
			add(fmt.Sprintf("beneficiary.languages[%d]", i), "must be a language code such as fr")
		}
	}
	if b.Phone != "" && !e164RE.MatchString(b.Phone) {
		add("beneficiary.phone", "must be an E.164 number such as +224621234567")
	}
	if td := b.TravelDocument; td != nil {
		text("beneficiary.travel_document.number", td.Number, 40)
		if _, err := time.Parse(dateLayout, td.Expiry); err != nil {
			add("beneficiary.travel_document.expiry", "must be a date YYYY-MM-DD")
		}
	}
	if len(r.Household) > 20 {
		add("household", "at most 20 members")
	}
	for i, m := range r.Household {
		f := func(n string) string { return fmt.Sprintf("household[%d].%s", i, n) }
		text(f("given_name"), m.GivenName, 200)
		if !slices.Contains([]string{"spouse", "child", "parent", "sibling", "other"}, m.Relationship) {
			add(f("relationship"), "must be one of spouse, child, parent, sibling, other")
		}
		pastDate(f("date_of_birth"), m.DateOfBirth)
	}
	for i, v := range r.Vulnerabilities {
		if !slices.Contains(contract.Vulnerabilities, v) {
			add(fmt.Sprintf("vulnerabilities[%d]", i), "must be one of %v", contract.Vulnerabilities)
		}
	}
	country("host_country", r.HostCountry)
	country("country_of_return", r.CountryOfReturn)
	if r.HostCountry != "" && r.HostCountry == r.CountryOfReturn {
		add("country_of_return", "must differ from host_country")
	}
	if len(r.AreaOfReturn.Region) > 100 || len(r.AreaOfReturn.District) > 100 {
		add("area_of_return", "region and district are at most 100 characters")
	}
	for _, o := range []struct{ field, v string }{{"sending_office", r.SendingOffice}, {"receiving_office", r.ReceivingOffice}} {
		if !officeRE.MatchString(o.v) {
			add(o.field, "must be an office code such as DE-BER")
		}
	}
	if !programmes(r.Programme) {
		add("programme", "must be one of the configured programmes")
	}
	if !r.Consent.DataProcessing {
		add("consent.data_processing", "must be true: without data-processing consent there is no case")
	}
	if r.Consent.GivenAt.IsZero() || r.Consent.GivenAt.After(now.Add(5*time.Minute)) {
		add("consent.given_at", "is required and must not be in the future")
	}
	return p
}

// household counts adults and minors (the applicant included) on a date.
func (r Registration) household(on time.Time) (adults, minors int) {
	count := func(dob string) {
		d, err := time.Parse(dateLayout, dob)
		if err == nil && d.AddDate(18, 0, 0).After(on) {
			minors++
			return
		}
		adults++
	}
	count(r.Beneficiary.DateOfBirth)
	for _, m := range r.Household {
		count(m.DateOfBirth)
	}
	return adults, minors
}

func (r Registration) vulnerable() bool {
	if len(r.Vulnerabilities) > 0 {
		return true
	}
	return slices.ContainsFunc(r.Household, func(m HouseholdMember) bool { return m.UnaccompaniedMinor })
}
