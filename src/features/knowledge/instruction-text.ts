/**
 * Spots text written for an AI rather than a reader — a prompt injection planted on a web page or in a
 * document — so such a passage can be flagged before the bot ever quotes it. Patterns run on text that is
 * lower-cased and stripped of accents (ø→o, æ→ae, ß→ss), so they are written plain.
 */

// Each idea needs an AI-specific word ("instructions" after "ignore all previous", "assistant" after "act
// as"), which is what keeps "follow the care instructions on the label" and "you are now subscribed" out.
const PATTERNS: ReadonlyArray<{ lang: string; idea: string; pattern: RegExp }> = [
  // English
  { lang: 'en', idea: 'ignore previous instructions', pattern: /(?<!\b(?:don't|do not|never|not)\s)\b(?:ignore|disregard|forget|override)\s+(?:(?:all|any|every|your|the|my|these|those|of|previous|prior|above|earlier|preceding|system|original)\s+)+(?:instructions|prompts?|directives)\b/ },
  { lang: 'en', idea: 'disregard … instructions', pattern: /\bdisregard\b[^.!?\n]{0,60}?\b(?:instructions|prompts?|guidelines)\b/ },
  { lang: 'en', idea: 'you are now …', pattern: /\b(?:you are now|from now on,? you are|you're now)\s+(?:in\s+|an?\s+|the\s+|my\s+)?(?:(?!(?:with|to|by|our|your|talking|chatting|speaking|connected)\b)[\w-]+\s+){0,3}?(?:assistant|ai|chatbot|llm|language model|dan|gpt|jailbroken|unrestricted|unfiltered|(?:developer|god|admin|jailbreak|dan) mode)\b/ },
  { lang: 'en', idea: 'system prompt', pattern: /\bsystem[\s-]?prompt\b/ },
  { lang: 'en', idea: 'new instructions:', pattern: /\b(?:new|updated|real|actual) instructions\s*:/ },
  { lang: 'en', idea: 'act as … assistant', pattern: /\b(?:(?:act|behave|respond|roleplay) (?:as|like)|pretend to be)\s+(?:an?\s+|the\s+|my\s+)?(?:(?!(?:our|your|their)\b)[\w-]+\s+){0,3}?(?:assistant|ai|chatbot|language model)\b/ },
  { lang: 'en', idea: 'reveal your prompt', pattern: /\b(?:reveal|show|print|repeat|output|disclose|leak|tell me)\s+(?:me\s+)?(?:your\s+(?:(?:system|hidden|initial|original|secret|full)\s+)*|the\s+(?:(?:system|hidden|initial|original|secret)\s+)+)(?:prompt|instructions)\b/ },
  // Spanish
  { lang: 'es', idea: 'ignora las instrucciones anteriores', pattern: /(?<!\bno\s)\b(?:ignor[ae]n?|ignorar|olvid[ae]n?|olvidar|descart[ae]n?)\s+(?:(?:(?:todas|todos|las|los|tus|sus|cualquier|de|el|la)\s+)+(?:instrucciones|indicaciones)|(?:instrucciones|indicaciones)\s+(?:anteriores|previas))\b/ },
  { lang: 'es', idea: 'ahora eres …', pattern: /\b(?:ahora eres|a partir de ahora eres|ahora usted es)\s+(?:un\s+|una\s+|el\s+|la\s+)?(?:\w+\s+){0,3}?(?:asistente|ia|chatbot|modelo)\b/ },
  { lang: 'es', idea: 'prompt del sistema', pattern: /\b(?:prompt|mensaje|instrucciones) del sistema\b/ },
  { lang: 'es', idea: 'nuevas instrucciones:', pattern: /\bnuevas instrucciones\s*:/ },
  { lang: 'es', idea: 'actua como asistente', pattern: /\b(?:actua|actue|actuar|finge ser)\s+(?:como\s+)?(?:un\s+|una\s+|el\s+|mi\s+)?(?:\w+\s+){0,3}?(?:asistente|ia|chatbot|bot)\b/ },
  { lang: 'es', idea: 'revela tus instrucciones', pattern: /\b(?:revela|revelame|muestra|muestrame|dime|repite|imprime)\s+(?:tus|tu|sus|su)\s+(?:\w+\s+)?(?:instrucciones|prompt|indicaciones)\b/ },
  // Portuguese
  { lang: 'pt', idea: 'ignore as instrucoes anteriores', pattern: /(?<!\bnao\s)\b(?:ignor[ae]m?|ignorar|esquec[ae]m?|esquecer|desconsider[ae]m?)\s+(?:(?:(?:todas|todos|as|os|suas|tuas|seus|quaisquer|de|o|a)\s+)+(?:instrucoes|orientacoes)|(?:instrucoes|orientacoes)\s+(?:anteriores|previas))\b/ },
  { lang: 'pt', idea: 'agora voce e …', pattern: /\b(?:agora (?:voce|tu) (?:e|es)|(?:voce|tu) agora (?:e|es))\s+(?:um\s+|uma\s+|o\s+|a\s+)?(?:\w+\s+){0,3}?(?:assistente|ia|chatbot|modelo)\b/ },
  { lang: 'pt', idea: 'prompt do sistema', pattern: /\b(?:prompt|mensagem|instrucoes) do sistema\b/ },
  { lang: 'pt', idea: 'novas instrucoes:', pattern: /\bnovas instrucoes\s*:/ },
  { lang: 'pt', idea: 'aja como assistente', pattern: /\b(?:aja|atue|age|finja ser)\s+(?:como\s+)?(?:um\s+|uma\s+|o\s+|meu\s+)?(?:\w+\s+){0,3}?(?:assistente|ia|chatbot|bot)\b/ },
  { lang: 'pt', idea: 'revele suas instrucoes', pattern: /\b(?:revele|revela|mostre|mostra|diga|repita|imprima)\s+(?:-me\s+)?(?:suas|seu|tuas|teu|as suas|o seu)\s+(?:\w+\s+)?(?:instrucoes|prompt)\b/ },
  // French
  { lang: 'fr', idea: 'ignore les instructions precedentes', pattern: /(?<!\bpas\s)\b(?:ignore[sz]?|ignorer|oublie[sz]?|oublier)\s+(?:(?:(?:toutes|tous|les|tes|vos|ses|des|de|la|le)\s+)+(?:instructions|consignes|directives)|(?:instructions|consignes|directives)\s+(?:precedentes|anterieures|ci-dessus))\b/ },
  { lang: 'fr', idea: 'tu es maintenant …', pattern: /\b(?:tu es maintenant|vous etes maintenant|desormais,? tu es|desormais,? vous etes)\s+(?:un\s+|une\s+|le\s+|la\s+)?(?:\w+\s+){0,3}?(?:assistant|ia|chatbot|modele)\b/ },
  { lang: 'fr', idea: 'prompt systeme', pattern: /\b(?:prompt|invite|instructions|message)\s+(?:du\s+)?systeme\b/ },
  { lang: 'fr', idea: 'nouvelles instructions :', pattern: /\bnouvelles (?:instructions|consignes)\s*:/ },
  { lang: 'fr', idea: 'agis comme un assistant', pattern: /\b(?:agis|agissez|comporte-toi|comportez-vous|fais semblant d'etre)\s+(?:comme\s+|en\s+)?(?:un\s+|une\s+|le\s+|mon\s+)?(?:\w+\s+){0,3}?(?:assistant|ia|chatbot|bot)\b/ },
  { lang: 'fr', idea: 'revele tes instructions', pattern: /\b(?:revele|revelez|montre|montrez|affiche|affichez|repete|repetez)[\s-]+(?:-?moi\s+)?(?:tes|vos|ton|votre)\s+(?:\w+\s+)?(?:instructions|prompt|consignes)\b/ },
  // German
  { lang: 'de', idea: 'ignoriere alle vorherigen Anweisungen', pattern: /\b(?:ignoriere|ignorieren|ignoriert|ignorier|vergiss|vergessen|missachte)\s+(?:(?:alle|deine|ihre|die|sie|vorherigen|vorigen|bisherigen|obigen|fruheren|vorangegangenen|system)\s+)+(?:anweisungen|instruktionen|befehle|vorgaben)\b/ },
  { lang: 'de', idea: 'du bist jetzt …', pattern: /\b(?:du bist (?:jetzt|nun|ab jetzt)|sie sind (?:jetzt|nun)|ab jetzt bist du)\s+(?:ein\s+|eine\s+|der\s+|die\s+|im\s+)?(?:\w+\s+){0,3}?(?:assistent|ki|chatbot|sprachmodell|(?:entwickler|jailbreak)-?modus)\b/ },
  { lang: 'de', idea: 'Systemprompt', pattern: /\bsystem-?(?:prompt|anweisungen?)\b/ },
  { lang: 'de', idea: 'neue Anweisungen:', pattern: /\bneue anweisungen\s*:/ },
  { lang: 'de', idea: 'verhalte dich wie ein Assistent', pattern: /\b(?:verhalte dich|verhalten sie sich|agiere|handle|tu so)\s+(?:wie|als)\s+(?:ob du\s+)?(?:ein\s+|eine\s+|der\s+|mein\s+)?(?:\w+\s+){0,3}?(?:assistent|ki|chatbot|bot)\b/ },
  { lang: 'de', idea: 'zeig deine Anweisungen', pattern: /\b(?:zeige?|verrate|nenne|wiederhole|gib)\s+(?:mir\s+)?(?:deine|deinen|ihre|ihren)\s+(?:\w+\s+)?(?:anweisungen|instruktionen|prompt|systemprompt)\b/ },
  // Italian
  { lang: 'it', idea: 'ignora le istruzioni precedenti', pattern: /(?<!\bnon\s)\b(?:ignora|ignorate|ignorare|dimentica|dimenticate|dimenticare|trascura)\s+(?:(?:(?:tutte|tutti|le|gli|i|tue|sue|vostre|qualsiasi|di|la|il)\s+)+(?:istruzioni|indicazioni|direttive)|(?:istruzioni|indicazioni|direttive)\s+(?:precedenti|di sopra))\b/ },
  { lang: 'it', idea: 'ora sei …', pattern: /\b(?:ora sei|adesso sei|da ora sei|da adesso sei)\s+(?:un\s+|una\s+|l'|il\s+|la\s+)?(?:\w+\s+){0,3}?(?:assistente|ia|chatbot|modello)\b/ },
  { lang: 'it', idea: 'prompt di sistema', pattern: /\b(?:prompt|messaggio|istruzioni) di sistema\b/ },
  { lang: 'it', idea: 'nuove istruzioni:', pattern: /\bnuove istruzioni\s*:/ },
  { lang: 'it', idea: 'agisci come un assistente', pattern: /\b(?:agisci|comportati|fingi di essere)\s+(?:come\s+)?(?:un\s+|una\s+|il\s+|mio\s+)?(?:\w+\s+){0,3}?(?:assistente|ia|chatbot|bot)\b/ },
  { lang: 'it', idea: 'rivela le tue istruzioni', pattern: /\b(?:rivela|rivelami|mostra|mostrami|ripeti|dimmi|stampa)\s+(?:le tue|il tuo|i tuoi)\s+(?:\w+\s+)?(?:istruzioni|prompt)\b/ },
  // Norwegian
  { lang: 'no', idea: 'ignorer alle tidligere instruksjoner', pattern: /\b(?:ignorer|glem|se bort fra|overse)\s+(?:(?:alle|dine|de|tidligere|forrige|ovenstaende|foregaende)\s+)+(?:instruksjoner|instruksjonene|instrukser|instruksene|beskjeder|beskjedene)\b/ },
  { lang: 'no', idea: 'du er na …', pattern: /\b(?:du er na|fra na av er du|heretter er du)\s+(?:en\s+|ei\s+|et\s+)?(?:\w+\s+){0,3}?(?:assistent|ki|chatbot|sprakmodell|utviklermodus)\b/ },
  { lang: 'no', idea: 'systemprompt', pattern: /\bsystem(?:prompt|prompten|melding|meldingen|instruks|instruksen|instruksjonene?)\b/ },
  { lang: 'no', idea: 'nye instruksjoner:', pattern: /\bnye instruks(?:joner|er)\s*:/ },
  { lang: 'no', idea: 'oppfor deg som en assistent', pattern: /\b(?:oppfor deg|opptre|later som du er|lat som du er)\s+(?:som\s+)?(?:en\s+|ei\s+|et\s+|min\s+)?(?:\w+\s+){0,3}?(?:assistent|ki|chatbot|bot)\b/ },
  { lang: 'no', idea: 'avslor instruksjonene dine', pattern: /\b(?:avslor|vis|gjenta|skriv ut|fortell)\s+(?:meg\s+)?(?:(?:dine|din)\s+(?:instruksjoner|prompt)|(?:instruksjonene|prompten|systemprompten)\s+dine?)\b/ },
];

const FOLDED: Record<string, string> = { ø: 'o', æ: 'ae', œ: 'oe', ß: 'ss', đ: 'd', ł: 'l' };

/** Lower-case, accents dropped, letters that do not decompose spelled out, typographic apostrophes plain. */
function fold(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[øæœßđł]/g, (c) => FOLDED[c]!)
    .replace(/[’‘ʼ]/g, "'")
    .replace(/\s+/g, ' ');
}

export function looksLikeInstructions(text: string): boolean {
  const folded = fold(text);
  return PATTERNS.some((p) => p.pattern.test(folded));
}
