package api_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
)

// The contract loads and is valid OpenAPI (the e2e tests validate every
// response against it; this finds a broken contract without the stack).
func TestTheContractIsValidOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
}
