/**
 * Mixed-script detection for names (UTS #39 "highly restrictive" level): a
 * name may use one script, plus Common and Inherited characters (digits,
 * punctuation, combining marks), or one of the combinations East Asian
 * writing needs (Latin with Han and Hiragana/Katakana, Bopomofo or Hangul).
 * So `аlice` (Cyrillic а, Latin lice) is refused, `alice` and `алиса` are not.
 */

// Every script of Unicode 15 that V8's regular expressions know (ISO 15924 long names).
const SCRIPTS = (
  'Latin Cyrillic Greek Han Hiragana Katakana Hangul Bopomofo Arabic Hebrew Armenian Georgian Devanagari Bengali Thai ' +
  'Adlam Ahom Anatolian_Hieroglyphs Avestan Balinese Bamum Bassa_Vah Batak Bhaiksuki Brahmi Braille Buginese Buhid ' +
  'Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan ' +
  'Deseret Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Glagolitic Gothic Grantha Gujarati ' +
  'Gunjala_Gondi Gurmukhi Hanifi_Rohingya Hanunoo Hatran Imperial_Aramaic Inscriptional_Pahlavi Inscriptional_Parthian ' +
  'Javanese Kaithi Kannada Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Lepcha Limbu Linear_A ' +
  'Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek ' +
  'Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari ' +
  'Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian ' +
  'Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene ' +
  'Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting ' +
  'Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil ' +
  'Tangsa Tangut Telugu Thaana Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square'
).split(' ');

// One pattern, one capture group per script: the index of the group that matched names the script.
const WHICH = new RegExp(`^(?:${SCRIPTS.map((s) => `(\\p{Script=${s}})`).join('|')})`, 'u');
const NEUTRAL = /^[\p{Script=Common}\p{Script=Inherited}]/u;

// Combinations that are one writing system, not a disguise.
const ALLOWED_SETS: readonly ReadonlySet<string>[] = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

/** The script of one code point, `undefined` for Common/Inherited, `Unknown` for one not listed. */
const scriptOf = (ch: string): string | undefined => {
  if (NEUTRAL.test(ch)) return undefined;
  const m = WHICH.exec(ch);
  if (m === null) return 'Unknown';
  const i = m.findIndex((g, j) => j > 0 && g !== undefined);
  return SCRIPTS[i - 1] ?? 'Unknown';
};

/** The scripts of `name` when they mix in a way {@link ALLOWED_SETS} does not allow (in order of appearance); else `undefined`. */
export const mixedScripts = (name: string): readonly string[] | undefined => {
  const seen: string[] = [];
  for (const ch of name) {
    const s = scriptOf(ch);
    if (s !== undefined && !seen.includes(s)) seen.push(s);
  }
  if (seen.length <= 1) return undefined;
  return ALLOWED_SETS.some((set) => seen.every((s) => set.has(s))) ? undefined : seen;
};
