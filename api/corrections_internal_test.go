package api

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// RFC 7396's own examples (appendix A), a few of them.
func TestMergePatchFollowsRFC7396(t *testing.T) {
	for _, tc := range []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`{"a":"foo"}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		var target, patch any
		require.NoError(t, json.Unmarshal([]byte(tc.target), &target))
		require.NoError(t, json.Unmarshal([]byte(tc.patch), &patch))
		require.JSONEq(t, tc.want, mustJSON(mergePatch(target, patch)), tc.patch)
	}
}

func TestChangedFieldsNameFieldsNotValues(t *testing.T) {
	before := Registration{Beneficiary: Beneficiary{GivenName: "Aminata", FamilyName: "Camara", Phone: "+224620000001"},
		AreaOfReturn: Area{Region: "Kankan"}, Vulnerabilities: []string{"health_needs"}}
	after := before
	after.Beneficiary.FamilyName, after.Beneficiary.Phone = "Kamara", ""
	after.AreaOfReturn.District = "Siguiri"
	require.Equal(t, []string{"area_of_return.district", "beneficiary.family_name", "beneficiary.phone"}, changedFields(before, after))
	require.Empty(t, changedFields(before, before))
}
