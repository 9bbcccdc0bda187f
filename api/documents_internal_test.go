package api

import (
	"mime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDocumentsAreRecognisedByTheirContent(t *testing.T) {
	for content, want := range map[string]string{
		"%PDF-1.7\n...":                  "application/pdf",
		"\xFF\xD8\xFF\xE0\x00\x10JFIF":   "image/jpeg",
		"\x89PNG\r\n\x1a\n\x00\x00\x00":  "image/png",
		"MZ\x90\x00 (a Windows program)": "",
		"\x7fELF":                        "",
		"<html><script>":                 "",
		" %PDF-1.7":                      "", // the signature must come first
		"GIF89a":                         "",
	} {
		require.Equal(t, want, sniff([]byte(content)), "%q", content)
	}
}

func TestFilenamesAreCleanedAndSentSafely(t *testing.T) {
	require.Equal(t, "passport.pdf", cleanFilename(`C:\Users\ana\passport.pdf`))
	require.Equal(t, "passport.pdf", cleanFilename("../../etc/passport.pdf"))
	require.Equal(t, "ab.pdf", cleanFilename("a\r\nb\x00\".pdf"))
	require.Equal(t, "document", cleanFilename(".."))
	require.Equal(t, "document", cleanFilename("  "))
	require.Len(t, []rune(cleanFilename(strings.Repeat("é", 300))), 255)

	name := cleanFilename("Aïssatou N'Diaye; consent.pdf")
	header := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	require.True(t, strings.HasPrefix(header, "attachment;"), header)
	_, params, err := mime.ParseMediaType(header)
	require.NoError(t, err)
	require.Equal(t, name, params["filename"], "a non-ASCII name survives the header")
}
