package tts

import (
	"errors"
	"testing"
)

func TestEspeakVoice(t *testing.T) {
	tests := []struct {
		voice, language string
		want            string
	}{
		// Generic voices, both dialects' spellings.
		{"man", "en-US", "en-us"},
		{"woman", "en-US", "en-us+f3"},
		{"MAN", "en-US", "en-us"},
		{"WOMAN", "", "en-us+f3"},
		{"", "", "en-us"},
		{"alice", "en-GB", "en-gb"}, // unknown names speak as man
		// Languages: exact, regional fallback, primary subtag, case and underscores.
		{"man", "en-GB", "en-gb"},
		{"man", "EN-us", "en-us"},
		{"man", "en_US", "en-us"},
		{"man", "en-AU", "en-gb"},
		{"man", "en-IN", "en-gb"},
		{"man", "en-CA", "en-us"},
		{"man", "en", "en-us"},
		{"woman", "fr-FR", "fr-fr+f3"},
		{"woman", "fr-CA", "fr-fr+f3"},
		{"man", "fr-BE", "fr-be"},
		{"man", "es-ES", "es"},
		{"man", "es-MX", "es-419"},
		{"man", "es-US", "es-419"},
		{"man", "de-DE", "de"},
		{"man", "de-AT", "de"},
		{"man", "it-IT", "it"},
		{"woman", "ja-JP", "ja+f3"},
		{"man", "pt-BR", "pt-br"},
		{"man", "pt-PT", "pt"},
		{"man", "zh-CN", "cmn"},
		{"man", "zh-HK", "yue"},
		{"man", "cmn-CN", "cmn"},
		{"man", "nb-NO", "nb"},
		{"man", "arb", "ar"},
		{"man", "ar-AE", "ar"},
		{"man", "ko-KR", "ko"},
		{"man", "hi-IN", "hi"},
		// Polly voices: their own gender and language, overridden by an explicit language.
		{"Polly.Joanna", "", "en-us+f3"},
		{"Polly.Joanna-Neural", "", "en-us+f3"},
		{"polly.matthew", "", "en-us"},
		{"Polly.Amy", "", "en-gb+f3"},
		{"Polly.Brian", "", "en-gb"},
		{"Polly.Nicole", "", "en-gb+f3"},
		{"Polly.Hans", "", "de"},
		{"Polly.Céline", "", "fr-fr+f3"},
		{"Polly.Mia", "", "es-419+f3"},
		{"Polly.Camila", "", "pt-br+f3"},
		{"Polly.Zhiyu", "", "cmn+f3"},
		{"Polly.Joanna", "es-US", "es-419+f3"},
		{"Polly.Nobody", "", "en-us"},
		{"Polly.Nobody", "it-IT", "it"},
	}
	for _, tt := range tests {
		got, err := EspeakVoice(tt.voice, tt.language)
		if err != nil || got != tt.want {
			t.Errorf("EspeakVoice(%q, %q) = %q, %v; want %q", tt.voice, tt.language, got, err, tt.want)
		}
	}

	for _, lang := range []string{"xx-YY", "klingon", "tlh", "-", "en-", "e1-US", "en-US; rm -rf /", "en-US -v xx"} {
		if v, err := EspeakVoice("man", lang); !errors.Is(err, ErrLanguage) {
			t.Errorf("EspeakVoice(man, %q) = %q, %v; want ErrLanguage", lang, v, err)
		}
	}
}

// The tables only ever lead to names espeak-ng has.
func TestVoiceTablesConsistent(t *testing.T) {
	for from, to := range regionVoices {
		if !espeakVoices[to] {
			t.Errorf("regionVoices[%q] = %q, not an espeak-ng voice", from, to)
		}
	}
	for name, p := range pollyVoices {
		if _, ok := espeakLanguage(p.language); !ok {
			t.Errorf("Polly voice %q: language %q has no espeak-ng voice", name, p.language)
		}
	}
}
