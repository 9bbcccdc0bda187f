package workspace

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

//go:embed locales/*.json
var localeFiles embed.FS

// languages the workspace speaks: English, and French for the francophone offices
// that receive many returns. The first is the fallback.
var languages = []string{"en", "fr"}

var matcher = language.NewMatcher([]language.Tag{language.English, language.French})

// catalogs holds each language's messages: key -> text with fmt verbs. A key a
// catalogue lacks falls back to English, and a text that is not a key (a refusal
// the workflow wrote) to itself, so nothing shows as a bare key.
type catalogs map[string]map[string]string

func loadCatalogs() (catalogs, error) {
	cats := catalogs{}
	for _, lang := range languages {
		b, err := localeFiles.ReadFile("locales/" + lang + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("locales/%s.json: %w", lang, err)
		}
		cats[lang] = m
	}
	return cats, nil
}

func (c catalogs) text(lang, key string, args ...any) string {
	msg, ok := c[lang][key]
	if !ok {
		if msg, ok = c["en"][key]; !ok {
			msg = key
		}
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// has says whether the key is in the language's catalogue (or English's).
func (c catalogs) has(lang, key string) bool {
	_, ok := c[lang][key]
	if !ok {
		_, ok = c["en"][key]
	}
	return ok
}

// languageOf is the person's language: the one they chose on the page (a cookie),
// else the best match for their browser's Accept-Language.
func languageOf(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		for _, l := range languages {
			if c.Value == l {
				return l
			}
		}
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, _ := matcher.Match(tags...)
	if base, _ := []language.Tag{language.English, language.French}[i].Base(); strings.HasPrefix(base.String(), "fr") {
		return "fr"
	}
	return "en"
}
