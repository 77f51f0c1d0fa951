#include "testmodel/corpus.h"

namespace mlxs::testmodel {

const char* english_corpus() {
  return "The little town sat by the river, and every morning the people of the town "
         "walked down to the water to see what the night had brought. Some days there "
         "was nothing at all, only the slow brown river and the birds that lived in the "
         "reeds. On other days there were boats with strange sails, or a tree that had "
         "fallen far away in the hills, or a box that nobody could open. "
         "The children liked the boxes best. They would sit on the bank and try to guess "
         "what was inside, and their guesses grew larger with every year: a letter, a "
         "map, a crown, a bird that could talk, a machine that could think. "
         "One spring a woman came down the river on a raft made of doors. She said she "
         "was looking for the place where the river began, because she had spent her life "
         "at the end of it and wanted to know how the story started. The people of the "
         "town gave her bread and water and told her that the river began in the "
         "mountains, but none of them had ever been there, and none of them knew the way. "
         "She thanked them, and in the morning she was gone, walking up the road that "
         "followed the water into the hills. "
         "Years later a letter arrived with no name on it. It said that the river began "
         "in a small lake under a high grey stone, and that the water there was so clear "
         "you could count the stones on the bottom. It said that the writer had sat by the "
         "lake for a long time, thinking about all the towns and people that the water "
         "would pass on its way to the sea, and that she was happy. "
         "The people of the town read the letter many times. Then they put it in a box, "
         "closed the box, and set it on the river, so that someone at the end of the "
         "water could sit on a bank and wonder what was inside. "
         "Numbers and signs appear in text as well: 1, 2, 3, 10, 42, 100, 2024; "
         "questions? answers! (notes) \"quotes\" - and so on.";
}

}  // namespace mlxs::testmodel
