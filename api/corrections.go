package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// correctable are the parts of a case a correction may change.
var correctable = []string{"beneficiary", "household", "vulnerabilities", "area_of_return"}

// storedRegistration is the registration as the case file holds it now.
func storedRegistration(cs *store.Case) (Registration, error) {
	r := Registration{HostCountry: cs.HostCountry, CountryOfReturn: cs.CountryOfReturn,
		AreaOfReturn: Area{Region: cs.AreaRegion, District: cs.AreaDistrict}, SendingOffice: cs.SendingOffice,
		ReceivingOffice: cs.ReceivingOffice, Programme: cs.Programme}
	for _, part := range []struct {
		raw string
		dst any
	}{{cs.Beneficiary, &r.Beneficiary}, {cs.Household, &r.Household}, {cs.Vulnerabilities, &r.Vulnerabilities},
		{cs.Consent, &r.Consent}} {
		if err := json.Unmarshal([]byte(part.raw), part.dst); err != nil {
			return r, err
		}
	}
	return r, nil
}

// mergePatch applies an RFC 7396 JSON merge patch to a decoded JSON document.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

// changedFields names what differs between two registrations: a path per
// changed field of the beneficiary and the area, and the household and the
// vulnerabilities as a whole. Names only, never values.
func changedFields(before, after Registration) []string {
	var out []string
	flat := func(v any) map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(mustJSON(v)), &m)
		return m
	}
	for _, part := range []struct {
		name          string
		before, after any
	}{{"beneficiary", before.Beneficiary, after.Beneficiary}, {"area_of_return", before.AreaOfReturn, after.AreaOfReturn}} {
		b, a := flat(part.before), flat(part.after)
		for k := range a {
			if !reflect.DeepEqual(a[k], b[k]) {
				out = append(out, part.name+"."+k)
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				out = append(out, part.name+"."+k)
			}
		}
	}
	if mustJSON(orEmpty(before.Household)) != mustJSON(orEmpty(after.Household)) {
		out = append(out, "household")
	}
	if mustJSON(orEmpty(before.Vulnerabilities)) != mustJSON(orEmpty(after.Vulnerabilities)) {
		out = append(out, "vulnerabilities")
	}
	sort.Strings(out)
	return out
}

// identityKey is the keyed hash of who the beneficiary is (as at registration).
func (s *Server) identityKey(b Beneficiary) string {
	return s.registrations.IdentityKey(strings.ToLower(strings.TrimSpace(b.FamilyName)), strings.ToLower(strings.TrimSpace(b.GivenName)),
		b.DateOfBirth, b.Nationality)
}

// CorrectCase applies a JSON merge patch (RFC 7396) of beneficiary, household,
// vulnerabilities and area_of_return to a case p (a caseworker of one of its
// offices) may see. The patch is merged onto the registration as stored and the
// result is checked by Registration.Validate, as a registration is. The
// identity key and the blind indexes follow; the timeline and the audit trail
// name the fields changed, never their values. A correction that changes what
// the workflow decides with (the household's adults and minors, and so the
// caps; whether the case is vulnerable; health needs) goes through the workflow
// first (update "correction", whose validator may refuse it: 409, 422). It
// returns the case after the correction.
func (s *Server) CorrectCase(ctx context.Context, p Principal, caseID string, patch []byte) (CaseView, error) {
	if err := permit(p, "correct a case", contract.RoleCaseworker); err != nil {
		return CaseView{}, err
	}
	cs, err := s.caseOf(ctx, p, caseID)
	if err != nil {
		return CaseView{}, err
	}
	return s.correctCase(ctx, p, cs, patch)
}

func (s *Server) correctCase(ctx context.Context, p Principal, cs *store.Case, patch []byte) (CaseView, error) {
	var ops map[string]any
	dec := json.NewDecoder(bytes.NewReader(patch))
	if err := dec.Decode(&ops); err != nil || dec.More() {
		if err == nil {
			return CaseView{}, fail(KindMalformed, "the body must hold one JSON object")
		}
		return CaseView{}, malformed(err)
	}
	if ops == nil {
		return CaseView{}, fail(KindMalformed, "the body must be a JSON merge patch object")
	}
	if len(ops) == 0 {
		return CaseView{}, fail(KindInvalid, "the patch changes nothing")
	}
	for k := range ops {
		if !slices.Contains(correctable, k) {
			return CaseView{}, &Error{Kind: KindMalformed, Detail: "unknown or unchangeable field " + k,
				Fields: []contract.FieldError{{Field: k, Message: "is not a field a correction changes (beneficiary, household, vulnerabilities, area_of_return)"}}}
		}
	}
	if cs.AnonymisedAt != nil {
		return CaseView{}, fail(KindConflict, "the case's personal data was erased")
	}
	if cs.ConsentWithdrawnAt != nil {
		return CaseView{}, fail(KindConflict, "consent to data processing was withdrawn")
	}
	before, err := storedRegistration(cs)
	if err != nil {
		return CaseView{}, err
	}
	var doc any
	if err := json.Unmarshal([]byte(mustJSON(before)), &doc); err != nil {
		return CaseView{}, err
	}
	merged := mergePatch(doc, ops)
	var after Registration
	mdec := json.NewDecoder(bytes.NewReader([]byte(mustJSON(merged))))
	mdec.DisallowUnknownFields()
	if err := mdec.Decode(&after); err != nil {
		return CaseView{}, malformed(err)
	}
	now := s.now()
	if errs := after.Validate(now, func(name string) bool { _, ok := s.cfg.Rules.Programme(name); return ok }); len(errs) > 0 {
		return CaseView{}, &Error{Kind: KindInvalid, Detail: "the corrected case is not valid", Fields: errs}
	}
	fields := changedFields(before, after)
	if len(fields) == 0 {
		return s.caseView(ctx, cs)
	}
	// The workflow counted adults and minors on the day of registration.
	a0, m0 := before.household(cs.CreatedAt)
	a1, m1 := after.household(cs.CreatedAt)
	health := func(r Registration) bool { return slices.Contains(r.Vulnerabilities, "health_needs") }
	if a0 != a1 || m0 != m1 || before.vulnerable() != after.vulnerable() || health(before) != health(after) {
		// What the process decides with changes: the workflow says whether it may
		// (first: if it refuses, nothing is written). A retry after a failed write
		// below sends the same values again, which the workflow takes as done.
		if err := s.correctProcess(ctx, p, cs, contract.Correction{Adults: a1, Minors: m1,
			Vulnerable: after.vulnerable(), HealthNeeds: health(after)}); err != nil {
			return CaseView{}, err
		}
	}
	err = s.casework.CorrectCase(ctx, store.Correction{CaseID: cs.ID, Beneficiary: mustJSON(after.Beneficiary),
		Household: mustJSON(orEmpty(after.Household)), Vulnerabilities: mustJSON(orEmpty(after.Vulnerabilities)),
		AreaRegion: after.AreaOfReturn.Region, AreaDistrict: after.AreaOfReturn.District, Vulnerable: after.vulnerable(),
		Sex: after.Beneficiary.Sex, AgeBand: store.AgeBandAt(after.Beneficiary.DateOfBirth, cs.CreatedAt), BeneficiaryKey: s.identityKey(after.Beneficiary), Fields: fields, By: s.entry(ctx, p, cs.ID, "", ""), At: now})
	if errors.Is(err, store.ErrActiveCaseExists) {
		// As a refused registration: it reveals that the person has an active case,
		// so it is audited against that case (and names it only to who may see it).
		return CaseView{}, s.duplicate(WithPrincipal(ctx, p), s.identityKey(after.Beneficiary))
	}
	if err != nil {
		return CaseView{}, err
	}
	return s.caseViewNow(ctx, cs.ID)
}

// correctProcess sends the workflow the counts and flags a correction changes,
// as an update whose validator says whether they may change in the case's stage.
func (s *Server) correctProcess(ctx context.Context, p Principal, cs *store.Case, c contract.Correction) error {
	if err := s.ensureStarted(ctx, cs); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: cs.WorkflowID, UpdateID: uuid.NewString(), UpdateName: contract.UpdateCorrection,
		WaitForStage: client.WorkflowUpdateStageCompleted,
		Args:         []any{contract.Action[contract.Correction]{Actor: p, Body: c}},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	return closedIsConflict(err)
}

// caseView is the case as the case file has it (the workflow's projection).
// caseViewNow is the view of a case as its file now stands, after a change the
// caller made to it.
func (s *Server) caseViewNow(ctx context.Context, caseID string) (CaseView, error) {
	cs, err := s.cases.CaseByID(ctx, caseID)
	if err != nil {
		return CaseView{}, err
	}
	return s.caseView(ctx, cs)
}

func (s *Server) caseView(ctx context.Context, cs *store.Case) (CaseView, error) {
	st, err := cs.LiveState()
	if err != nil {
		return CaseView{}, err
	}
	v := s.view(cs, st)
	if err := s.withCaseFile(ctx, &v); err != nil {
		return v, err
	}
	return v, s.withBudget(ctx, &v)
}

func (s *Server) patchCase(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/merge-patch+json" {
		respondError(c, fail(KindUnsupported, "send a JSON merge patch as application/merge-patch+json"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.HTTP.BodyLimitBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			respondError(c, fail(KindTooLarge, "the body is over the limit of 1 MiB"))
			return
		}
		respondError(c, fail(KindMalformed, "the body could not be read"))
		return
	}
	v, err := s.correctCase(c.Request.Context(), principal(c), cs, body)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
