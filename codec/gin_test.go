package codec

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// How the API mounts the handler: gin.WrapH under /codec/*path, for every method (the browser's
// preflight is an OPTIONS request). The handler sees the full path.
func TestMountedInGin(t *testing.T) {
	gin.SetMode(gin.TestMode)
	f := newFixture(t, nil)
	r := gin.New()
	r.Any("/codec/*path", gin.WrapH(f.h))

	pre := httptest.NewRequest(http.MethodOptions, "/codec/default/decode", nil)
	pre.Header.Set("Origin", uiOrigin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, pre)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != uiOrigin {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}

	post := httptest.NewRequest(http.MethodPost, "/codec/default/decode", strings.NewReader(f.encryptedBody(t, "x")))
	post.Header.Set("Content-Type", "application/json")
	post.Header.Set("Origin", uiOrigin)
	post.Header.Set("Authorization", "Bearer manager-token")
	w = httptest.NewRecorder()
	r.ServeHTTP(w, post)
	if w.Code != http.StatusOK {
		t.Fatalf("decode: %d %s", w.Code, w.Body)
	}
}
