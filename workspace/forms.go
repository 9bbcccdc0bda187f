package workspace

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// Forms name their inputs as the API's validators name fields ("held_at",
// "items[0].cost.amount", "household[1].date_of_birth"), so an error the shared
// validation gives lands beside the input it is about. Reading a form only builds
// the request; whether it is valid is for the request's Validate and the workflow.

// decision is the form's decision, as posted (the validators check it).
func decision(f url.Values) contract.Decision { return contract.Decision(f.Get("decision")) }

// formTime reads a datetime-local (or date) input as UTC; empty or unreadable
// gives the zero time, which the validators call required.
func formTime(v string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(v)); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func formTimePtr(v string) *time.Time {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	t := formTime(v)
	return &t
}

// lines splits a textarea into its non-empty lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// formFloat reads a number; an unreadable one is NaN, which validators refuse.
func formFloat(v string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.ReplaceAll(v, ",", ".")), 64)
	if err != nil {
		return -1 // out of every range a score or amount may take
	}
	return f
}

// action is an action the case page offers: the update or signal it is, and how
// its form becomes the request.
type action struct {
	name string
	fact bool // a partner's fact entered by hand (answered without the case)
	read func(f url.Values) api.Request
}

var actions = map[string]action{
	contract.UpdateCounselling: {name: contract.UpdateCounselling, read: func(f url.Values) api.Request {
		return contract.Counselling{Outcome: f.Get("outcome"), HeldAt: formTime(f.Get("held_at")), Notes: f.Get("notes")}
	}},
	contract.UpdateScreening: {name: contract.UpdateScreening, read: func(f url.Values) api.Request {
		return contract.Screening{Risk: f.Get("risk"), Flags: f["flags"], Mitigations: lines(f.Get("mitigations"))}
	}},
	contract.UpdateClearance: {name: contract.UpdateClearance, read: func(f url.Values) api.Request {
		return contract.Clearance{Decision: decision(f), Comment: f.Get("comment")}
	}},
	contract.SignalMedicalResult: {name: contract.SignalMedicalResult, fact: true, read: func(f url.Values) api.Request {
		days, _ := strconv.Atoi(f.Get("reassess_after_days"))
		n, _ := strconv.Atoi(f.Get("request_no"))
		return contract.MedicalResult{RequestNo: n, Result: f.Get("result"), AssessedAt: formTime(f.Get("assessed_at")),
			ValidUntil: formTimePtr(f.Get("valid_until")), ReassessAfterDays: days}
	}},
	contract.UpdateDeparture: {name: contract.UpdateDeparture, read: func(f url.Values) api.Request {
		if f.Get("no_show") == "true" {
			return contract.Departure{NoShow: true}
		}
		return contract.Departure{DepartedAt: formTimePtr(f.Get("departed_at")), Flight: strings.TrimSpace(f.Get("flight"))}
	}},
	contract.SignalArrival: {name: contract.SignalArrival, fact: true, read: func(f url.Values) api.Request {
		return contract.Arrival{BookingRef: f.Get("booking_ref"), ArrivedAt: formTime(f.Get("arrived_at")), ReceivedBy: strings.TrimSpace(f.Get("received_by"))}
	}},
	contract.UpdatePlan: {name: contract.UpdatePlan, read: func(f url.Values) api.Request { return readPlan(f) }},
	contract.UpdatePlanDecision: {name: contract.UpdatePlanDecision, read: func(f url.Values) api.Request {
		return contract.PlanDecision{Decision: decision(f), Comment: f.Get("comment")}
	}},
	contract.UpdateDelivery: {name: contract.UpdateDelivery, read: func(f url.Values) api.Request {
		return contract.Delivery{ItemID: f.Get("target"), DeliveredAt: formTime(f.Get("delivered_at")),
			HandoverCertificate: strings.TrimSpace(f.Get("handover_certificate")), HandoverDocument: f.Get("handover_document")}
	}},
	contract.UpdatePriceDecision: {name: contract.UpdatePriceDecision, read: func(f url.Values) api.Request {
		return contract.PriceDecision{ItemID: f.Get("target"), Decision: decision(f), Comment: f.Get("comment")}
	}},
	contract.UpdateDonorDecision: {name: contract.UpdateDonorDecision, read: func(f url.Values) api.Request {
		return contract.DonorDecision{Decision: decision(f), DonorReference: strings.TrimSpace(f.Get("donor_reference")),
			DonorLetter: f.Get("donor_letter"), Reason: f.Get("reason")}
	}},
	contract.UpdatePaymentValidation: {name: contract.UpdatePaymentValidation, read: func(f url.Values) api.Request {
		return contract.PaymentValidation{ItemID: f.Get("target"), Decision: decision(f), Reason: f.Get("reason")}
	}},
	contract.UpdateVisit: {name: contract.UpdateVisit, read: func(f url.Values) api.Request {
		n, _ := strconv.Atoi(f.Get("target"))
		return contract.Visit{Visit: n, VisitedAt: formTime(f.Get("visited_at")), Notes: f.Get("notes"),
			Referrals: lines(f.Get("referrals")), Scores: contract.Scores{Economic: formFloat(f.Get("scores.economic")),
				Social: formFloat(f.Get("scores.social")), Psychosocial: formFloat(f.Get("scores.psychosocial"))}}
	}},
	contract.UpdateWithdrawal: {name: contract.UpdateWithdrawal, read: func(f url.Values) api.Request {
		return contract.Withdrawal{Reason: f.Get("reason"), Comment: f.Get("comment")}
	}},
}

// planRows is how many of the plan editor's rows are items: up to the last one
// filled in (an empty row between is an item the validators call incomplete).
func planRows(f url.Values) int {
	n := 0
	for i := 0; i < 50; i++ {
		d, a := fmt.Sprintf("items[%d].description", i), fmt.Sprintf("items[%d].cost.amount", i)
		if strings.TrimSpace(f.Get(d)) != "" || strings.TrimSpace(f.Get(a)) != "" {
			n = i + 1 // rows after the last one filled in are left out, so indexes match the form's
		}
	}
	return n
}

// readPlan reads the plan editor's rows; a row left wholly empty is no item.
func readPlan(f url.Values) contract.Plan {
	var p contract.Plan
	for i := 0; i < planRows(f); i++ {
		field := func(n string) string { return strings.TrimSpace(f.Get(fmt.Sprintf("items[%d].%s", i, n))) }
		p.Items = append(p.Items, contract.PlanItemInput{Dimension: field("dimension"), Kind: field("kind"),
			Description: field("description"), Cost: money.Money{Amount: normaliseAmount(field("cost.amount")),
				Currency: f.Get("currency")}})
	}
	return p
}

// normaliseAmount accepts what people type for money: "900", "900,5", "1 250.00".
func normaliseAmount(v string) string {
	v = strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), "\u00a0", "")
	if strings.Count(v, ",") == 1 && !strings.Contains(v, ".") {
		v = strings.Replace(v, ",", ".", 1)
	}
	if v == "" {
		return v
	}
	if !strings.Contains(v, ".") {
		return v + ".00"
	}
	if whole, frac, _ := strings.Cut(v, "."); len(frac) == 1 {
		return whole + "." + frac + "0"
	}
	return v
}

// readRegistration reads the registration form.
func readRegistration(f url.Values) api.Registration {
	get := func(n string) string { return strings.TrimSpace(f.Get(n)) }
	r := api.Registration{
		Beneficiary: api.Beneficiary{GivenName: get("beneficiary.given_name"), FamilyName: get("beneficiary.family_name"),
			DateOfBirth: get("beneficiary.date_of_birth"), Sex: get("beneficiary.sex"),
			Nationality: strings.ToUpper(get("beneficiary.nationality")), Phone: strings.ReplaceAll(get("beneficiary.phone"), " ", "")},
		Vulnerabilities: f["vulnerabilities"], HostCountry: strings.ToUpper(get("host_country")),
		CountryOfReturn: strings.ToUpper(get("country_of_return")),
		AreaOfReturn:    api.Area{Region: get("area_of_return.region"), District: get("area_of_return.district")},
		SendingOffice:   get("sending_office"), ReceivingOffice: strings.ToUpper(get("receiving_office")),
		Programme: get("programme"),
		Consent:   api.Consent{DataProcessing: get("consent.data_processing") == "true", GivenAt: formTime(get("consent.given_at"))},
	}
	for _, l := range strings.FieldsFunc(get("beneficiary.languages"), func(r rune) bool { return r == ',' || r == ' ' }) {
		r.Beneficiary.Languages = append(r.Beneficiary.Languages, strings.ToLower(l))
	}
	if n := get("beneficiary.travel_document.number"); n != "" || get("beneficiary.travel_document.expiry") != "" {
		r.Beneficiary.TravelDocument = &api.TravelDocument{Number: n, Expiry: get("beneficiary.travel_document.expiry")}
	}
	for i := 0; i < householdRows(f); i++ {
		m := func(n string) string { return get(fmt.Sprintf("household[%d].%s", i, n)) }
		r.Household = append(r.Household, api.HouseholdMember{GivenName: m("given_name"), FamilyName: m("family_name"),
			Relationship: m("relationship"), DateOfBirth: m("date_of_birth"), UnaccompaniedMinor: m("unaccompanied_minor") == "true"})
	}
	return r
}

// householdRows is how many of the form's member rows are members: up to the last
// one filled in (rows left empty at the end are none).
func householdRows(f url.Values) int {
	n := 0
	for i := 0; i < 21; i++ {
		for _, field := range []string{"given_name", "family_name", "date_of_birth"} {
			if strings.TrimSpace(f.Get(fmt.Sprintf("household[%d].%s", i, field))) != "" {
				n = i + 1
			}
		}
	}
	return n
}
