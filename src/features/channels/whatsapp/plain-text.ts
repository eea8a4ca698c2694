/**
 * Markdown a model may produce, turned into plain text for WhatsApp: headings, emphasis, code fences,
 * links and list markers lose their syntax; the words stay. A link keeps its URL (the reader needs it).
 */
export function plainText(markdown: string): string {
  let s = markdown.replace(/\r\n?/g, '\n');
  s = s.replace(/```[^\n]*\n([\s\S]*?)```/g, '$1');
  s = s.replace(/`([^`\n]+)`/g, '$1');
  s = s.replace(/!\[([^\]]*)\]\(([^)\s]+)[^)]*\)/g, (_m, alt: string, url: string) => (alt ? `${alt}: ${url}` : url));
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)[^)]*\)/g, (_m, text: string, url: string) => (text === url ? url : `${text}: ${url}`));
  s = s.replace(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$/gm, '$1');
  s = s.replace(/^ {0,3}>\s?/gm, '');
  s = s.replace(/^ {0,3}([-*_])( *\1){2,} *$/gm, '');
  s = s.replace(/^([ \t]*)[*+][ \t]+/gm, '$1- ');
  s = s.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, '$2');
  s = s.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, '$1$2');
  s = s.replace(/(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?!\w)/g, '$1$2');
  s = s.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '$1');
  s = s.replace(/\n{3,}/g, '\n\n');
  return s.trim();
}
