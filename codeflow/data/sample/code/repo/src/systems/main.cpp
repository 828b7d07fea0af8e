#include <iostream>
#include <algorithm>
#include <string>
#include <vector>

int main() {
    std::vector<std::string> words{"delta", "alpha", "charlie", "bravo"};
    std::sort(words.begin(), words.end());
    for (const auto& w : words) {
        std::cout << w << '\n';
    }
    auto longest = std::max_element(words.begin(), words.end(),
                                    [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
    std::cout << "longest: " << *longest << std::endl;
    return 0;
}
