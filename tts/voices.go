package tts

import (
	"fmt"
	"strings"
)

// Voice mapping. The dialects name a voice as "man" or "woman" (FlexML, and Plivo's MAN and
// WOMAN, which translate/ lower-cases) or as an Amazon Polly voice ("Polly.Joanna",
// "Polly.Joanna-Neural"), plus a BCP 47 language ("en-US"; "" = the voice's own). espeak-ng
// knows languages, not people, so:
//
//   - Language: the tag, lower-cased, if espeak-ng has a voice of that name ("en-us",
//     "pt-br"); else the nearest regional voice from regionVoices (en-AU → en-gb, es-MX →
//     es-419, fr-CA → fr-fr, zh-CN → cmn, ...); else the primary subtag ("de-AT" → de). A
//     language espeak-ng cannot speak is an error (ErrLanguage) rather than English read with
//     the wrong rules. No language: the Polly voice's own, else en-US.
//   - Gender: woman → the "+f3" variant (a female voice); man → espeak-ng's default voice,
//     which is male. A Polly voice has the gender and language listed in pollyVoices; an
//     unknown Polly voice speaks with the default (male) voice in the requested language.
//   - Anything else ("" or an unknown name) is treated as man, FlexML's default.
const femaleVariant = "+f3"

// espeakVoices are the voice names espeak-ng 1.51 (Debian 12) accepts with -v, lower case.
var espeakVoices = setOf(
	"af", "am", "an", "ar", "as", "az", "ba", "be", "bg", "bn", "bpy", "bs", "ca", "chr-us-qaaa-x-west",
	"cmn", "cmn-latn-pinyin", "cs", "cv", "cy", "da", "de", "el", "en-029", "en-gb", "en-gb-scotland",
	"en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-x-rp", "en-us", "en-us-nyc", "eo", "es", "es-419", "et",
	"eu", "fa", "fa-latn", "fi", "fr-be", "fr-ch", "fr-fr", "ga", "gd", "gn", "grc", "gu", "hak", "haw",
	"he", "hi", "hr", "ht", "hu", "hy", "hyw", "ia", "id", "io", "is", "it", "ja", "jbo", "ka", "kk",
	"kl", "kn", "ko", "kok", "ku", "ky", "la", "lb", "lfn", "lt", "ltg", "lv", "mi", "mk", "ml", "mr",
	"ms", "mt", "my", "nb", "nci", "ne", "nl", "nog", "om", "or", "pa", "pap", "piqd", "pl", "pt", "pt-br",
	"py", "qdb", "qu", "quc", "qya", "ro", "ru", "ru-lv", "sd", "shn", "si", "sjn", "sk", "sl", "smj",
	"sq", "sr", "sv", "sw", "ta", "te", "th", "tk", "tn", "tr", "tt", "ug", "uk", "ur", "uz", "vi",
	"vi-vn-x-central", "vi-vn-x-south", "yue",
)

// regionVoices maps language tags (lower case) with no espeak-ng voice of their own, or whose
// primary subtag would pick the wrong variety, to the nearest voice.
var regionVoices = map[string]string{
	"en": "en-us", "en-au": "en-gb", "en-nz": "en-gb", "en-ie": "en-gb", "en-za": "en-gb",
	"en-in": "en-gb", "en-gb-wls": "en-gb", "en-ca": "en-us", "en-uk": "en-gb",
	"es-us": "es-419", "es-mx": "es-419", "es-ar": "es-419", "es-co": "es-419", "es-cl": "es-419",
	"es-pe": "es-419", "es-ve": "es-419",
	"fr": "fr-fr", "fr-ca": "fr-fr",
	"pt-pt": "pt",
	"zh":    "cmn", "zh-cn": "cmn", "zh-tw": "cmn", "zh-sg": "cmn", "zh-hans": "cmn", "zh-hant": "cmn",
	"cmn-cn": "cmn", "zh-hk": "yue", "yue-cn": "yue", "yue-hk": "yue",
	"no": "nb", "nb-no": "nb", "nn": "nb", "nn-no": "nb",
	"arb": "ar", "iw": "he", "in": "id",
}

// pollyVoice is an Amazon Polly voice's language and gender.
type pollyVoice struct {
	language string
	female   bool
}

// pollyVoices lists the Polly voices the vendors' documentation offers, by lower-case name.
var pollyVoices = map[string]pollyVoice{
	// English (US)
	"joanna": {"en-US", true}, "salli": {"en-US", true}, "kimberly": {"en-US", true},
	"kendra": {"en-US", true}, "ivy": {"en-US", true}, "ruth": {"en-US", true},
	"danielle": {"en-US", true}, "matthew": {"en-US", false}, "justin": {"en-US", false},
	"joey": {"en-US", false}, "kevin": {"en-US", false}, "stephen": {"en-US", false},
	"gregory": {"en-US", false},
	// English (other)
	"amy": {"en-GB", true}, "emma": {"en-GB", true}, "brian": {"en-GB", false},
	"arthur": {"en-GB", false}, "nicole": {"en-AU", true}, "olivia": {"en-AU", true},
	"russell": {"en-AU", false}, "raveena": {"en-IN", true}, "aditi": {"en-IN", true},
	"kajal": {"en-IN", true}, "geraint": {"en-GB-WLS", false}, "aria": {"en-NZ", true},
	"ayanda": {"en-ZA", true},
	// Other languages
	"celine": {"fr-FR", true}, "céline": {"fr-FR", true}, "lea": {"fr-FR", true}, "léa": {"fr-FR", true},
	"mathieu": {"fr-FR", false}, "chantal": {"fr-CA", true}, "gabrielle": {"fr-CA", true},
	"marlene": {"de-DE", true}, "vicki": {"de-DE", true}, "hans": {"de-DE", false},
	"conchita": {"es-ES", true}, "lucia": {"es-ES", true}, "enrique": {"es-ES", false},
	"mia": {"es-MX", true}, "penelope": {"es-US", true}, "lupe": {"es-US", true},
	"miguel": {"es-US", false}, "carla": {"it-IT", true}, "bianca": {"it-IT", true},
	"giorgio": {"it-IT", false}, "mizuki": {"ja-JP", true}, "takumi": {"ja-JP", false},
	"camila": {"pt-BR", true}, "vitoria": {"pt-BR", true}, "ricardo": {"pt-BR", false},
	"ines": {"pt-PT", true}, "cristiano": {"pt-PT", false}, "lotte": {"nl-NL", true},
	"ruben": {"nl-NL", false}, "tatyana": {"ru-RU", true}, "maxim": {"ru-RU", false},
	"zhiyu": {"cmn-CN", true}, "seoyeon": {"ko-KR", true}, "astrid": {"sv-SE", true},
	"liv": {"nb-NO", true}, "naja": {"da-DK", true}, "mads": {"da-DK", false},
	"ewa": {"pl-PL", true}, "maja": {"pl-PL", true}, "jacek": {"pl-PL", false},
	"jan": {"pl-PL", false}, "filiz": {"tr-TR", true}, "carmen": {"ro-RO", true},
	"gwyneth": {"cy-GB", true}, "dora": {"is-IS", true}, "karl": {"is-IS", false},
	"zeina": {"arb", true}, "hala": {"ar-AE", true},
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// EspeakVoice returns the espeak-ng voice (the -v argument) for a dialect voice and language,
// by the rules above. It only ever returns names from espeak-ng's own list, so nothing from a
// document reaches the command line unchecked.
func EspeakVoice(voice, language string) (string, error) {
	female := false
	v := strings.ToLower(strings.TrimSpace(voice))
	switch {
	case v == "woman":
		female = true
	case strings.HasPrefix(v, "polly."):
		name := strings.TrimSuffix(strings.TrimPrefix(v, "polly."), "-neural")
		if p, ok := pollyVoices[name]; ok {
			female = p.female
			if language == "" {
				language = p.language
			}
		}
	}
	if strings.TrimSpace(language) == "" {
		language = "en-US"
	}
	base, ok := espeakLanguage(language)
	if !ok {
		return "", fmt.Errorf("%w: %q has no espeak-ng voice", ErrLanguage, language)
	}
	if female {
		return base + femaleVariant, nil
	}
	return base, nil
}

func espeakLanguage(tag string) (string, bool) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
	if !wellFormed(t) {
		return "", false
	}
	if espeakVoices[t] {
		return t, true
	}
	if v, ok := regionVoices[t]; ok {
		return v, true
	}
	primary, _, _ := strings.Cut(t, "-")
	if v, ok := regionVoices[primary]; ok {
		return v, true
	}
	if espeakVoices[primary] {
		return primary, true
	}
	return "", false
}

// wellFormed reports whether t (lower case) has the shape of a BCP 47 tag: a primary subtag of
// 2–3 letters, then subtags of 1–8 letters or digits, separated by hyphens.
func wellFormed(t string) bool {
	for i, sub := range strings.Split(t, "-") {
		if len(sub) < 1 || len(sub) > 8 || (i == 0 && (len(sub) < 2 || len(sub) > 3)) {
			return false
		}
		for _, c := range sub {
			if !(c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}
