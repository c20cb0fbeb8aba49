// Reports as files: the Chinese file name of a `Content-Disposition`, saving a blob, and a
// report page made safe to show in a sandboxed frame.

/** The file name of a `Content-Disposition` header: `filename*` (RFC 5987) first, then `filename`. */
export function dispositionName(header: string | null | undefined, fallback: string): string {
  if (!header) return fallback
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header)
  if (star) {
    try {
      return decodeURIComponent(star[2].trim().replace(/^"|"$/g, ''))
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header)
  if (plain) return (plain[2] ?? plain[1]).trim()
  return fallback
}

/** Saves a blob under a file name (a temporary link, clicked). */
export function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/**
 * A report page for the preview frame: its own print button hidden (the frame runs no scripts;
 * the console prints it) and a `<base target>` so links open outside the frame.
 */
export function framedReport(html: string): string {
  // The frame runs no scripts: drop them (and inline handlers) rather than have them blocked.
  html = html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '').replace(/\son[a-z]+\s*=\s*("[^"]*"|'[^']*')/gi, '')
  const extra = '<style>.print{display:none!important}</style><base target="_blank">'
  const head = /<head[^>]*>/i.exec(html)
  if (head) return html.slice(0, head.index + head[0].length) + extra + html.slice(head.index + head[0].length)
  return extra + html
}
