// Generates corpus/topics.txt and corpus/topics.labels: short English sentences on four topics
// (0 weather, 1 kitchen, 2 sport, 3 travel) from hand-written templates and word lists, with a
// fixed seed, so the corpus is ours (MIT, like the code) and the same on every machine.
// Run: node scripts/generate-corpus.mjs [lines]   (the shipped files use the default 4000)
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let state = 20211111;
const rand = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 4294967296;
};
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const shared = {
  time: [
    "this morning",
    "last night",
    "today",
    "on monday",
    "at noon",
    "in the evening",
    "every day",
    "yesterday",
  ],
  person: [
    "my sister",
    "the old man",
    "our neighbour",
    "a young girl",
    "the teacher",
    "my friend",
    "the doctor",
    "her brother",
  ],
  feel: ["happy", "tired", "surprised", "calm", "glad", "worried", "cheerful", "quiet"],
};

const topics = [
  {
    name: "weather",
    words: {
      sky: ["the sky", "the clouds", "the wind", "the rain", "the snow", "the sun", "the fog", "the storm"],
      act: [
        "grew dark",
        "cleared up",
        "blew hard",
        "fell softly",
        "came early",
        "stayed grey",
        "turned cold",
        "moved east",
      ],
      thing: ["umbrella", "coat", "scarf", "boots", "hat", "gloves"],
      place: ["over the hills", "above the town", "along the coast", "across the valley", "near the lake"],
    },
    templates: [
      (w, s) => `${pick(w.sky)} ${pick(w.act)} ${pick(w.place)} ${pick(s.time)} .`,
      (w, s) =>
        `${pick(s.person)} took an ${pick(["umbrella", "old coat", "extra scarf"])} because ${pick(w.sky)} ${pick(w.act)} .`,
      (w, _s) => `the forecast said ${pick(w.sky)} ${pick(w.act)} ${pick(w.place)} .`,
      (w, s) =>
        `${pick(s.time)} ${pick(w.sky)} ${pick(w.act)} and ${pick(s.person)} wore a ${pick(w.thing)} .`,
    ],
  },
  {
    name: "kitchen",
    words: {
      food: [
        "the soup",
        "the bread",
        "the rice",
        "the cake",
        "the sauce",
        "the beans",
        "the pie",
        "the salad",
      ],
      verb: ["cooked", "baked", "stirred", "tasted", "served", "sliced", "boiled", "mixed"],
      tool: ["a wooden spoon", "a sharp knife", "a big pot", "the oven", "a small pan", "a glass bowl"],
      taste: ["sweet", "salty", "hot", "fresh", "rich", "sour", "mild", "crisp"],
    },
    templates: [
      (w, s) => `${pick(s.person)} ${pick(w.verb)} ${pick(w.food)} with ${pick(w.tool)} ${pick(s.time)} .`,
      (w, s) => `${pick(w.food)} tasted ${pick(w.taste)} and everyone was ${pick(s.feel)} .`,
      (w, _s) => `add salt to ${pick(w.food)} and leave it in ${pick(w.tool)} for an hour .`,
      (w, s) => `${pick(s.time)} we ${pick(w.verb)} ${pick(w.food)} , it was ${pick(w.taste)} .`,
    ],
  },
  {
    name: "sport",
    words: {
      team: [
        "the home team",
        "the visitors",
        "our club",
        "the young players",
        "the champions",
        "the runners",
      ],
      verb: ["won", "lost", "scored", "trained", "played", "ran", "passed", "defended"],
      game: ["the match", "the final", "the race", "the game", "the cup", "the league"],
      detail: [
        "in the last minute",
        "by two goals",
        "after extra time",
        "with a late goal",
        "on a wet field",
      ],
    },
    templates: [
      (w, _s) => `${pick(w.team)} ${pick(w.verb)} ${pick(w.game)} ${pick(w.detail)} .`,
      (w, s) => `${pick(s.person)} watched ${pick(w.game)} ${pick(s.time)} and felt ${pick(s.feel)} .`,
      (w, _s) => `the coach said ${pick(w.team)} ${pick(w.verb)} well ${pick(w.detail)} .`,
      (w, s) => `${pick(s.time)} ${pick(w.team)} ${pick(w.verb)} hard before ${pick(w.game)} .`,
    ],
  },
  {
    name: "travel",
    words: {
      go: ["took the train", "caught a bus", "flew", "drove", "sailed", "walked", "cycled", "rode"],
      to: [
        "to the city",
        "to the island",
        "to the mountains",
        "to the old port",
        "to the capital",
        "to the village",
      ],
      thing: ["ticket", "passport", "suitcase", "map", "bag", "guide book"],
      stay: ["a small hotel", "a quiet inn", "a friend's flat", "a camp site", "a room by the sea"],
    },
    templates: [
      (w, s) => `${pick(s.person)} ${pick(w.go)} ${pick(w.to)} ${pick(s.time)} .`,
      (w, _s) => `we stayed at ${pick(w.stay)} and forgot the ${pick(w.thing)} .`,
      (w, s) => `${pick(s.time)} ${pick(s.person)} ${pick(w.go)} ${pick(w.to)} with a ${pick(w.thing)} .`,
      (w, s) => `the trip ${pick(w.to)} made ${pick(s.person)} ${pick(s.feel)} .`,
    ],
  },
];

const count = Number(process.argv[2] ?? 4000);
const lines = [];
const labels = [];
for (let i = 0; i < count; i++) {
  const label = i % topics.length;
  const t = topics[label];
  lines.push(pick(t.templates)(t.words, shared));
  labels.push(String(label));
}
const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "corpus");
writeFileSync(join(dir, "topics.txt"), `${lines.join("\n")}\n`);
writeFileSync(join(dir, "topics.labels"), `${labels.join("\n")}\n`);
console.log(`wrote ${count} lines to ${join(dir, "topics.txt")}`);
