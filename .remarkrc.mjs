// remark for `npm run lint:links`: every relative link and heading anchor in the repository's Markdown
// must resolve to a file or heading inside this checkout. Offline on purpose: `repository: false` keeps
// remark-validate-links from mapping full GitHub URLs back to local files through the Git remote, so
// links to other sites are left alone and nothing is fetched.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import remarkValidateLinks from 'remark-validate-links';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * remark-validate-links accepts a relative link to any file that exists on this machine, even one
 * outside the repository (in a folder beside the checkout, say): a 404 for anyone who clones it.
 */
function linksStayInRepository() {
  return (tree, file) => {
    const visit = (node) => {
      if (typeof node.url === 'string') check(node, file);
      for (const child of node.children ?? []) visit(child);
    };
    visit(tree);
  };
}

function check(node, file) {
  const url = node.url;
  if (url.startsWith('file:')) {
    file.message(`Link \`${url}\` points at this machine's file system, not into the repository`, node, 'remark-lint-local:outside-repository');
    return;
  }
  // Other schemes (https:, mailto:), protocol-relative URLs, anchors and root-relative paths are not relative file links.
  if (/^[a-z][a-z\d+.-]*:/i.test(url) || url.startsWith('//') || url.startsWith('#') || url.startsWith('/')) return;
  const target = path.resolve(path.dirname(path.resolve(file.cwd, file.path)), safeDecode(url.split('#')[0]));
  const inside = path.relative(root, target);
  if (inside.startsWith('..') || path.isAbsolute(inside)) {
    file.message(`Link \`${url}\` leaves the repository: a reader who clones it cannot follow it`, node, 'remark-lint-local:outside-repository');
  }
}

/** `%20` and friends as the file name they stand for; a malformed escape is left as written (and then reported missing). */
function safeDecode(value) {
  try {
    return decodeURI(value);
  } catch {
    return value;
  }
}

export default {
  plugins: [[remarkValidateLinks, { repository: false }], linksStayInRepository],
};
